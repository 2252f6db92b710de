package camera

// Snapshots of the latest frame for the live view, taken only while
// someone asks for them.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
)

// SnapshotWidth bounds a snapshot's larger side; frames are scaled down
// to it.
const SnapshotWidth = 960

// watchFor is how long after the last request frames are still turned
// into snapshots (a page refreshing every second keeps it on).
const watchFor = 5 * time.Second

// Snapshot is one frame as a JPEG, with and without its overlay (each
// encoded only when it was asked for in the last few seconds).
type Snapshot struct {
	JPEG     []byte // nil unless a plain snapshot was asked for
	Overlay  []byte // nil unless an overlay was asked for
	Frame    uint64
	Captured time.Time
	Width    int // of the JPEG
	Height   int
}

// Overlay says what to draw over a snapshot: for each view (a region's
// crop, or the whole camera's), the text to write in its rectangle; ""
// draws the rectangle alone. It is called from the capture goroutine and
// must not block.
type Overlay func(view int) string

// snapshots is a camera's snapshot state.
type snapshots struct {
	until   atomic.Int64 // unix ns: snapshots are taken until then
	plain   atomic.Int64 // unix ns: plain JPEGs are encoded until then
	overlay atomic.Int64 // unix ns: overlays are drawn until then
	taken   atomic.Uint64

	mu     sync.Mutex
	last   *Snapshot
	recent [4]*Snapshot // the last few, for SnapshotOf (one per pooled frame and one more)
	next   int
	newer  chan struct{} // closed when the next snapshot is in
	scaled gocv.Mat      // capture goroutine only
	drawn  gocv.Mat
}

// Watched reports whether someone has asked for a snapshot lately: the
// pipeline keeps what an overlay needs only then.
func (c *Camera) Watched() bool { return time.Now().UnixNano() < c.snap.until.Load() }

// SnapshotOf is the snapshot of frame number n among the last few taken,
// or nil.
func (c *Camera) SnapshotOf(n uint64) *Snapshot {
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	for _, s := range c.snap.recent {
		if s != nil && s.Frame == n {
			return s
		}
	}
	return nil
}

// SnapshotsTaken counts the snapshots taken since start (none while no
// one watches).
func (c *Camera) SnapshotsTaken() uint64 { return c.snap.taken.Load() }

// Snapshot returns a frame captured at or after since (the latest one
// when it is recent enough), waiting for the next frame otherwise, up to
// ctx. Asking starts snapshots for the next few seconds; with nobody
// asking, frames cost nothing more.
func (c *Camera) Snapshot(ctx context.Context, since time.Time, overlay bool) (*Snapshot, error) {
	now := time.Now()
	c.snap.until.Store(now.Add(watchFor).UnixNano())
	if overlay {
		c.snap.overlay.Store(now.Add(watchFor).UnixNano())
	} else {
		c.snap.plain.Store(now.Add(watchFor).UnixNano())
	}
	has := func(s *Snapshot) bool { return s != nil && (overlay && s.Overlay != nil || !overlay && s.JPEG != nil) }
	for {
		c.snap.mu.Lock()
		s := c.snap.last
		if c.snap.newer == nil {
			c.snap.newer = make(chan struct{})
		}
		wait := c.snap.newer
		c.snap.mu.Unlock()
		if has(s) && !s.Captured.Before(since) {
			return s, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			if has(s) {
				return s, nil // the source is slower than the caller: the latest there is
			}
			return nil, fmt.Errorf("no frame yet: %w", ctx.Err())
		}
	}
}

// takeSnapshot turns c.raw into a snapshot when someone watches. It runs
// on the capture goroutine after a frame is decoded.
func (c *Camera) takeSnapshot(number uint64, captured time.Time) {
	now := time.Now().UnixNano()
	if now >= c.snap.until.Load() && !c.cfg.KeepFrames {
		return
	}
	s, err := c.encodeSnapshot(number, captured, c.cfg.KeepFrames || now < c.snap.plain.Load(), now < c.snap.overlay.Load())
	if err != nil {
		c.log.Debug("snapshot not taken", "err", err)
		return
	}
	c.snap.taken.Add(1)
	c.snap.mu.Lock()
	c.snap.last = s
	c.snap.recent[c.snap.next] = s
	c.snap.next = (c.snap.next + 1) % len(c.snap.recent)
	if c.snap.newer != nil {
		close(c.snap.newer)
		c.snap.newer = nil
	}
	c.snap.mu.Unlock()
}

func (c *Camera) encodeSnapshot(number uint64, captured time.Time, plain, overlay bool) (*Snapshot, error) {
	w, h := c.raw.Cols(), c.raw.Rows()
	if w <= 0 || h <= 0 {
		return nil, errors.New("empty frame")
	}
	scale := min(1, float64(SnapshotWidth)/float64(max(w, h)))
	sw, sh := max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))
	if c.snap.scaled.Ptr() == nil {
		c.snap.scaled, c.snap.drawn = gocv.NewMat(), gocv.NewMat()
	}
	src := &c.raw
	if scale < 1 {
		gocv.Resize(c.raw, &c.snap.scaled, image.Pt(sw, sh), 0, 0, gocv.InterpolationArea)
		src = &c.snap.scaled
	}
	s := &Snapshot{Frame: number, Captured: captured, Width: sw, Height: sh}
	var err error
	if plain {
		if s.JPEG, err = encodeJPEG(*src); err != nil {
			return nil, err
		}
	}
	if overlay {
		src.CopyTo(&c.snap.drawn)
		c.drawOverlay(&c.snap.drawn, scale)
		if s.Overlay, err = encodeJPEG(c.snap.drawn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func encodeJPEG(m gocv.Mat) ([]byte, error) {
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, m, []int{gocv.IMWriteJpegQuality, 80})
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}

// drawOverlay draws each view's crop and its text onto m (the frame scaled
// by scale).
func (c *Camera) drawOverlay(m *gocv.Mat, scale float64) {
	green := color.RGBA{G: 230, A: 255}
	black := color.RGBA{A: 255}
	fontScale := min(max(float64(m.Cols())/1600, 0.35), 0.8)
	for i, r := range c.crops {
		text := ""
		if c.cfg.Overlay != nil {
			text = c.cfg.Overlay(i)
		}
		rect := image.Rect(int(float64(r.X)*scale), int(float64(r.Y)*scale), int(float64(r.X+r.W)*scale)-1, int(float64(r.Y+r.H)*scale)-1)
		gocv.Rectangle(m, rect, green, 2)
		if text == "" {
			continue
		}
		size := gocv.GetTextSize(text, gocv.FontHersheySimplex, fontScale, 1)
		pad := max(2, size.Y/3)
		at := image.Pt(rect.Min.X+pad, rect.Min.Y+size.Y+pad)
		gocv.Rectangle(m, image.Rect(rect.Min.X, rect.Min.Y, rect.Min.X+size.X+2*pad, rect.Min.Y+size.Y+2*pad), green, -1)
		gocv.PutText(m, text, at, gocv.FontHersheySimplex, fontScale, black, 1)
	}
}

// closeSnapshots releases the snapshot Mats.
func (c *Camera) closeSnapshots() {
	if c.snap.scaled.Ptr() != nil {
		c.snap.scaled.Close()
		c.snap.drawn.Close()
	}
}
