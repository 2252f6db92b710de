// Package camera captures frames with GoCV from V4L2 devices, RTSP and
// HTTP(S)/MJPEG streams, video files and image folders, crops and resizes
// them to the model's input size, and hands them to the pipeline.
//
// Live sources (devices, streams) hand over "latest frame wins": a slow model
// never builds a backlog, and a replaced frame is counted as dropped. Files
// and folders are pulled: the next frame is read when the previous one was
// taken, so every frame is processed. A source that fails or ends is
// reopened with capped exponential backoff; files and folders end the run
// unless they loop.
package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
)

// FFmpegOptions is the value the daemon gives OPENCV_FFMPEG_CAPTURE_OPTIONS
// once at start-up, before any camera opens, when the user has not set it:
// FFmpeg's I/O timeout (microseconds) turns a stalled stream into a failed
// read, so the camera reconnects instead of blocking for ever. Setting the
// variable drops OpenCV's own default, RTSP over TCP, so it is restated.
const FFmpegOptions = "rtsp_transport;tcp|rw_timeout;5000000|timeout;5000000"

// ErrEndOfInput is returned by Next after the last frame of a file or
// folder that does not loop.
var ErrEndOfInput = errors.New("camera: end of input")

// Backoff bounds the delay between reopening attempts. The delay doubles
// after every failed attempt up to Max, and goes back to Initial once the
// source has delivered frames for Healthy.
type Backoff struct {
	Initial time.Duration // first delay (default 500ms)
	Max     time.Duration // cap (default 30s)
	Healthy time.Duration // streaming this long resets the delay (default 10s)
}

// Config describes one camera.
type Config struct {
	Name   string
	Source string
	FPS    float64 // frame-rate cap; 0 = unbounded
	Loop   bool    // files and folders start over at the end
	Spec   preprocess.Spec
	// Views, when set, replaces Spec: each frame is decoded once and every
	// view (a region's crop at its model's input size) is cut from it,
	// into Frame.Views in this order.
	Views   []preprocess.Spec
	Backoff Backoff
	// Decode is how a network stream (rtsp://, http://…) is decoded:
	// DecodeAuto (the default: key frames only when the FPS cap is at or
	// below the stream's key-frame rate), DecodeAll or DecodeKeyframes.
	Decode Decode
	// Transport is RTSP's lower transport for streams: "tcp" (the
	// default) or "udp".
	Transport string
	// Decoder names the FFmpeg decoder for a stream decoded in full
	// (FFmpeg's video_codec option, such as h264_v4l2m2m on a Raspberry
	// Pi); empty: FFmpeg's own choice.
	Decoder string
	// Preset, when set, names a GStreamer pipeline of Presets that reads
	// Source (an rtsp:// URL, or csi for a board camera).
	Preset string
	// MaxPixels bounds an image's or frame's width×height: a folder's
	// image above it is skipped, read from its header, without decoding;
	// a larger frame from a stream or file is dropped. Both are counted as
	// decode errors. Zero means DefaultMaxPixels.
	MaxPixels int
	// Overlay gives the text drawn over each view in a snapshot with an
	// overlay (Snapshot); nil draws the views' rectangles alone.
	Overlay Overlay
	// KeepFrames takes a plain snapshot of every frame delivered (Latest),
	// for samples that keep their whole frame.
	KeepFrames bool
}

// Frame is one captured, resized frame.
type Frame struct {
	Number    uint64    // frame counter of the source since start (dropped ones included), from 1
	Captured  time.Time // when the frame's read began (the payload's ts)
	Pixels    []byte    // Width*Height*3 BGR bytes: Views[0]
	Width     int
	Height    int
	Views     [][]byte // one per Config.Views (one, Pixels, without views), each its spec's Width*Height*3 BGR bytes
	File      string   // image file name, for folder sources
	ReadDur   time.Duration
	ResizeDur time.Duration
}

// Camera captures from one source.
type Camera struct {
	cfg   Config
	src   Source
	log   *slog.Logger
	pool  chan *Frame
	ready chan *Frame
	ended chan struct{}

	captured, dropped, skipped, reconnects, decodeErrs atomic.Uint64
	busySince                                          atomic.Int64 // unix ns when the running open or read began; 0 when none runs

	// Pacing of files and folders (pull mode): the next frame is read
	// when the consumer has taken the last one and is about to want
	// another, so frames do not wait, aging, in the queue.
	taken  chan struct{} // a token per frame the consumer took (capacity 1)
	wantAt atomic.Int64  // unix ns when the consumer expects to want the next frame; 0: now
	waited atomic.Bool   // the consumer found no frame ready: the read began too late

	mu     sync.Mutex
	status result.Status

	// capture-goroutine state (gocv); only Run and Close touch these.
	in     input
	folder *folderInput // in, for a folder: the next file's size predicts a read's cost
	video  *videoInput  // in, for devices, streams, pipelines and video files
	// Live sources grab every frame but convert only the one the consumer
	// will take: the last grabbed before it wants the next (WantNextAt).
	waiting    atomic.Bool   // the consumer is blocked in Next
	grabGap    time.Duration // moving average of the time between two grabs
	lastGrab   time.Time
	convCost   time.Duration // moving average of a retrieve and resize
	keys       keyframeProbe // auto decode: the key-frame rate, measured
	raw        gocv.Mat
	resized    gocv.Mat
	boxed      gocv.Mat
	halves     [2]gocv.Mat // a large crop halved in turn before its last resize (shrink)
	plannedFor image.Point
	tooLarge   image.Point       // the last frame size found above MaxPixels (logged once)
	planErr    error             // the plan for plannedFor failed (ROI outside the frame)
	crops      []preprocess.Rect // per view: the part of the frame it reads
	dsts       []preprocess.Rect // per view: where that lands in its output
	timer      *time.Timer       // backoff and frame-rate pacing, reused
	readCost   time.Duration     // moving average of one read and resize (pull mode)
	// Folders of photos of different sizes: a read's cost is predicted
	// from the next file's size and a moving average of the time per byte.
	perByte   float64 // ns per byte of file read, decoded and resized; 0 until measured
	nextSize  int64   // size of the file numbered nextIdx, which the pending read is for; 0 if unknown
	nextIdx   int
	lead      time.Duration // how much earlier than readCost a paced read starts (adapts)
	snap      snapshots     // the live view's snapshots (snapshot.go)
	closeOnce sync.Once
}

// New checks the configuration; nothing is opened until Run.
func New(cfg Config, log *slog.Logger) (*Camera, error) {
	if len(cfg.Views) == 0 {
		cfg.Views = []preprocess.Spec{cfg.Spec}
	}
	src, err := configSource(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Spec = cfg.Views[0]
	for _, v := range cfg.Views {
		if err := v.Validate(); err != nil {
			if v.Field != "" {
				return nil, fmt.Errorf("source %q: %s: %w", cfg.Source, v.Field, err)
			}
			return nil, fmt.Errorf("source %q: %w", cfg.Source, err)
		}
	}
	if cfg.FPS < 0 {
		return nil, fmt.Errorf("fps %v is negative", cfg.FPS)
	}
	so, err := streamOpts(cfg, src)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Source, err)
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff.Initial = 500 * time.Millisecond
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = 30 * time.Second
	}
	cfg.Backoff.Max = max(cfg.Backoff.Max, cfg.Backoff.Initial)
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = DefaultMaxPixels
	}
	if cfg.Backoff.Healthy <= 0 {
		cfg.Backoff.Healthy = 10 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Camera{cfg: cfg, src: src, log: log.With("source", cfg.Source, "kind", src.Kind.String()),
		pool: make(chan *Frame, 3), ready: make(chan *Frame, 1), ended: make(chan struct{}), taken: make(chan struct{}, 1),
		raw: gocv.NewMat(), resized: gocv.NewMat(), boxed: gocv.NewMat(),
		halves: [2]gocv.Mat{gocv.NewMat(), gocv.NewMat()}}
	c.in = newInput(src, cfg.Spec, cfg.MaxPixels, so, c.log)
	c.folder, _ = c.in.(*folderInput)
	c.video, _ = c.in.(*videoInput)
	c.crops = make([]preprocess.Rect, len(cfg.Views))
	c.dsts = make([]preprocess.Rect, len(cfg.Views))
	for i := 0; i < cap(c.pool); i++ {
		f := &Frame{Width: cfg.Spec.Width, Height: cfg.Spec.Height}
		for _, v := range cfg.Views {
			f.Views = append(f.Views, make([]byte, v.Width*v.Height*3))
		}
		f.Pixels = f.Views[0]
		c.pool <- f
	}
	c.status = result.Status{State: result.Starting, Kind: src.Kind.String(), Since: time.Now()}
	return c, nil
}

// Kind returns the source's kind.
func (c *Camera) Kind() Kind { return c.src.Kind }

// State returns a snapshot of the camera's state and counters.
func (c *Camera) State() result.Status {
	c.mu.Lock()
	s := c.status
	c.mu.Unlock()
	s.Captured, s.Dropped, s.Skipped = c.captured.Load(), c.dropped.Load(), c.skipped.Load()
	s.Reconnects, s.DecodeErrors = c.reconnects.Load(), c.decodeErrs.Load()
	return s
}

func (c *Camera) setState(state result.State, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status.State != state {
		c.status.Since = time.Now()
	}
	c.status.State = state
	if err != nil {
		c.status.LastError = err.Error()
	}
}

// Run captures until ctx ends (returns nil) or a non-looping file or folder
// has handed over its last frame (returns nil, and Next reports
// ErrEndOfInput). Failures never end Run, with one exception: the source
// is reopened with backoff and State reports them. The exception is a
// non-looping video file that does not open: it cannot start to, so the
// camera ends in state failed with the reason.
func (c *Camera) Run(ctx context.Context) error {
	defer c.closeSource()
	c.timer = time.NewTimer(time.Hour)
	c.timer.Stop()
	delay := c.cfg.Backoff.Initial
	var last time.Time
	var number uint64
	// Files and folders are paced: one frame may be handed over, then the
	// next waits until the consumer took it (see pace).
	paced, mayDeliver := !c.src.Kind.Live(), true
	switching := false // reopening to change the decode mode, not after a failure
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if switching {
			switching = false
		} else if attempt > 0 {
			c.reconnects.Add(1)
			c.setState(result.Reconnecting, nil)
			c.log.Info("reopening source", "in", delay)
			if !c.sleep(ctx, delay) {
				return nil
			}
			delay = min(delay*2, c.cfg.Backoff.Max)
		}
		c.chooseDecode()
		if err := c.timedOpen(); err != nil {
			if c.keys.openFailed(c, err) {
				switching = true
				continue
			}
			if c.src.Kind == File && !c.cfg.Loop {
				// A video file that does not open will not start to: the
				// camera ends, failed, saying why. (A looping file is
				// retried, for a file that is replaced in place.)
				c.setState(result.Failed, err)
				c.log.Error("cannot open video file; the camera ends", "err", err)
				close(c.ended)
				return nil
			}
			c.setState(result.Reconnecting, err)
			c.log.Warn("cannot open source", "err", err)
			continue
		}
		c.keys.opened(c)
		if c.video != nil {
			c.mu.Lock()
			c.status.Decoder = c.video.decoder()
			c.mu.Unlock()
		}
		c.setState(result.Streaming, nil)
		c.plannedFor, c.planErr = image.Point{}, nil // re-plan (and re-report) the new stream's frames
		opened := time.Now()
		pass := 0 // frames handed over since the source was (re)opened
		for ctx.Err() == nil {
			if paced && !mayDeliver {
				if !c.pace(ctx) {
					return nil
				}
				mayDeliver = true
			}
			t0 := time.Now()
			c.busySince.Store(t0.UnixNano())
			var file string
			var err error
			grabOnly := c.src.Kind.Live() && c.video != nil
			if grabOnly {
				err = c.grab()
			} else {
				file, err = c.read()
			}
			c.busySince.Store(0)
			if grabOnly {
				// A live source's read waits for the frame: it was
				// captured when the read returned.
				t0 = time.Now()
			}
			if errors.Is(err, errEnd) {
				if c.cfg.Loop && pass > 0 {
					c.closeSource()
					if err := c.timedOpen(); err != nil {
						c.setState(result.Reconnecting, err)
						c.log.Warn("cannot reopen source to loop", "err", err)
						break
					}
					pass = 0
					continue
				}
				if c.cfg.Loop {
					// Starting over at once would spin: back off instead.
					err := fmt.Errorf("%s %s: no usable frame", c.src.Kind, c.src.Raw)
					if c.planErr != nil {
						err = fmt.Errorf("%s %s: no usable frame: %w", c.src.Kind, c.src.Raw, c.planErr)
					}
					c.setState(result.Reconnecting, err)
					c.log.Warn("source failed", "err", err)
					break
				}
				c.setState(result.Ended, nil)
				close(c.ended)
				return nil
			}
			if errors.Is(err, errSkip) {
				continue
			}
			if err != nil {
				c.setState(result.Reconnecting, err)
				c.log.Warn("source failed", "err", err)
				break
			}
			if delay != c.cfg.Backoff.Initial && t0.Sub(opened) >= c.cfg.Backoff.Healthy {
				delay = c.cfg.Backoff.Initial
			}
			number++
			c.captured.Add(1)
			if c.video != nil && c.video.keyframes() && c.keys.observe(c, t0) {
				switching = true // auto: the key frames are too few for the FPS cap
				break
			}
			// Frame-rate cap.
			if c.cfg.FPS > 0 {
				period := time.Duration(float64(time.Second) / c.cfg.FPS)
				if c.src.Kind.Live() {
					// A frame up to 5% early passes: key frames a second
					// apart under a 1 fps cap jitter either side of it.
					if !last.IsZero() && t0.Sub(last) < period-period/20 {
						c.skipped.Add(1)
						continue
					}
				} else if !last.IsZero() && !c.sleep(ctx, time.Until(last.Add(period))) {
					return nil
				}
			}
			if grabOnly {
				if !c.wanted(t0) {
					// The consumer is busy and a fresher frame will come
					// before it wants one: this one is never converted.
					c.dropped.Add(1)
					continue
				}
				t1 := time.Now()
				if err := c.retrieve(); err != nil {
					continue
				}
				c.convCost = ema(c.convCost, time.Since(t1))
			}
			if c.cfg.FPS > 0 {
				last = time.Now()
			}
			if err := c.deliver(ctx, number, file, t0); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				c.decodeErrs.Add(1)
				if !errors.Is(err, errBadPlan) {
					c.log.Warn("frame skipped", "frame", number, "err", err)
				}
				continue
			}
			pass++
			if paced {
				mayDeliver = false
				if c.cfg.FPS == 0 { // (with a rate cap, t0 to now includes the cap's wait)
					c.readTook(time.Since(t0))
				}
			}
		}
		c.closeSource()
	}
	return nil
}

// timedOpen opens the source, marking the camera busy while it does.
func (c *Camera) timedOpen() error {
	c.busySince.Store(time.Now().UnixNano())
	defer c.busySince.Store(0)
	return c.in.Open()
}

// Busy reports how long the source's current open or read has been
// running at now, or zero when none is. Waiting for the consumer, backing
// off and idling under the rate cap are not busy: a large value means the
// device or stream hangs.
func (c *Camera) Busy(now time.Time) time.Duration {
	if t := c.busySince.Load(); t != 0 {
		return now.Sub(time.Unix(0, t))
	}
	return 0
}

// sleep waits for d on the camera's reused timer; it reports false when ctx
// ended first.
func (c *Camera) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	c.timer.Reset(d)
	select {
	case <-c.timer.C:
		return true
	case <-ctx.Done():
		c.timer.Stop()
		return false
	}
}

var (
	errEnd     = errors.New("end of source")
	errSkip    = errors.New("frame skipped")
	errBadPlan = errors.New("frame size does not fit the crop")
)

func (c *Camera) closeSource() { c.in.Close() }

// read reads the next raw frame into c.raw, counting the corrupt frames
// skipped on the way; for folders it returns the file name.
func (c *Camera) read() (string, error) {
	file, corrupt, err := c.in.Read(&c.raw)
	c.corrupt(corrupt, err)
	if err != nil {
		return file, err
	}
	return file, c.checkSize()
}

// grab takes a live source's next frame without converting it, counting
// the corrupt frames skipped on the way.
func (c *Camera) grab() error {
	corrupt, err := c.video.Grab()
	c.corrupt(corrupt, err)
	if err == nil {
		now := time.Now()
		if !c.lastGrab.IsZero() {
			c.grabGap = ema(c.grabGap, now.Sub(c.lastGrab))
		}
		c.lastGrab = now
	}
	return err
}

// retrieve converts the grabbed frame into c.raw: errSkip (counted) when
// it does not convert or is too large.
func (c *Camera) retrieve() error {
	if err := c.video.Retrieve(&c.raw); err != nil {
		c.decodeErrs.Add(1)
		return err
	}
	return c.checkSize()
}

// wanted reports whether the frame grabbed at t should be converted and
// handed over: the consumer is waiting, has not said when it wants the
// next frame, or will want it before the next grab is due.
func (c *Camera) wanted(t time.Time) bool {
	if c.waiting.Load() {
		return true
	}
	at := c.wantAt.Load()
	if at == 0 || c.grabGap == 0 {
		return true
	}
	return !t.Add(c.grabGap).Before(time.Unix(0, at).Add(-c.convCost))
}

// ema folds d into the moving average avg (zero: not started).
func ema(avg, d time.Duration) time.Duration {
	if avg == 0 {
		return d
	}
	return (7*avg + d) / 8
}

// corrupt counts the corrupt frames a read or grab skipped.
func (c *Camera) corrupt(n int, err error) {
	if n > 0 {
		c.decodeErrs.Add(uint64(n))
		if !errors.Is(err, errSkip) {
			c.log.Warn("corrupt frames skipped", "count", n)
		}
	}
}

// checkSize skips a frame above the pixel budget, counting it and logging
// each new size once.
func (c *Camera) checkSize() error {
	if int64(c.raw.Cols())*int64(c.raw.Rows()) > int64(c.cfg.MaxPixels) {
		c.decodeErrs.Add(1)
		if size := image.Pt(c.raw.Cols(), c.raw.Rows()); size != c.tooLarge {
			c.tooLarge = size // logged once per size
			c.log.Warn("frames skipped: larger than the pixel budget", "width", size.X, "height", size.Y, "max_pixels", c.cfg.MaxPixels)
		}
		return errSkip
	}
	return nil
}

// Close releases the camera's OpenCV resources. Call it after Run has
// returned; it is safe to call twice.
func (c *Camera) Close() error {
	c.closeOnce.Do(func() {
		c.closeSource()
		c.raw.Close()
		c.resized.Close()
		c.boxed.Close()
		c.halves[0].Close()
		c.halves[1].Close()
		c.closeSnapshots()
	})
	return nil
}
