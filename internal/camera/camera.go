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
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	Name    string
	Source  string
	FPS     float64 // frame-rate cap; 0 = unbounded
	Loop    bool    // files and folders start over at the end
	Spec    preprocess.Spec
	Backoff Backoff
}

// Frame is one captured, resized frame.
type Frame struct {
	Number    uint64    // frame counter of the source since start (dropped ones included), from 1
	Captured  time.Time // when the frame's read began (the payload's ts)
	Pixels    []byte    // Width*Height*3 BGR bytes
	Width     int
	Height    int
	File      string // image file name, for folder sources
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
	vc         *gocv.VideoCapture
	files      []string
	fileIdx    int
	raw        gocv.Mat
	resized    gocv.Mat
	boxed      gocv.Mat
	plannedFor image.Point
	planErr    error // the plan for plannedFor failed (ROI outside the frame)
	crop, dst  preprocess.Rect
	timer      *time.Timer   // backoff and frame-rate pacing, reused
	readCost   time.Duration // moving average of one read and resize (pull mode)
	// Folders of photos of different sizes: a read's cost is predicted
	// from the next file's size and a moving average of the time per byte.
	perByte   float64 // ns per byte of file read, decoded and resized; 0 until measured
	nextSize  int64   // size of the file numbered nextIdx, which the pending read is for; 0 if unknown
	nextIdx   int
	lead      time.Duration // how much earlier than readCost a paced read starts (adapts)
	closeOnce sync.Once
}

// New checks the configuration; nothing is opened until Run.
func New(cfg Config, log *slog.Logger) (*Camera, error) {
	src, err := ParseSource(cfg.Source)
	if err != nil {
		return nil, err
	}
	if err := cfg.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Source, err)
	}
	if cfg.FPS < 0 {
		return nil, fmt.Errorf("fps %v is negative", cfg.FPS)
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff.Initial = 500 * time.Millisecond
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = 30 * time.Second
	}
	cfg.Backoff.Max = max(cfg.Backoff.Max, cfg.Backoff.Initial)
	if cfg.Backoff.Healthy <= 0 {
		cfg.Backoff.Healthy = 10 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Camera{cfg: cfg, src: src, log: log.With("source", cfg.Source, "kind", src.Kind.String()),
		pool: make(chan *Frame, 3), ready: make(chan *Frame, 1), ended: make(chan struct{}), taken: make(chan struct{}, 1),
		raw: gocv.NewMat(), resized: gocv.NewMat(), boxed: gocv.NewMat()}
	n := cfg.Spec.Width * cfg.Spec.Height * 3
	for i := 0; i < cap(c.pool); i++ {
		c.pool <- &Frame{Pixels: make([]byte, n), Width: cfg.Spec.Width, Height: cfg.Spec.Height}
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

// Next blocks until the next frame, ctx's end, or the end of input.
func (c *Camera) Next(ctx context.Context) (*Frame, error) {
	select {
	case f := <-c.ready:
		return c.took(f), nil
	default:
	}
	c.waited.Store(true)
	select {
	case f := <-c.ready:
		return c.took(f), nil
	case <-c.ended:
		select {
		case f := <-c.ready:
			return c.took(f), nil
		default:
			return nil, ErrEndOfInput
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// took lets a paced (file or folder) capture read on.
func (c *Camera) took(f *Frame) *Frame {
	if !c.src.Kind.Live() {
		select {
		case c.taken <- struct{}{}:
		default:
		}
	}
	return f
}

// WantNextAt tells a file or folder source when the consumer expects to
// want its next frame (when the running inference should end). The frame is
// then read and resized just in time for it rather than ahead, so results
// keep their capture-to-publish latency low without losing throughput.
// Live sources ignore it: they deliver the newest frame as it comes.
func (c *Camera) WantNextAt(t time.Time) {
	c.wantAt.Store(t.UnixNano())
}

// pace holds a file or folder's next read until the consumer has taken
// the previous frame and, when it said when it wants the next one, until
// that moment less the usual cost of a read and a lead; it reports false
// when ctx ended first.
//
// The lead tracks the median lateness: it grows by a step whenever the
// consumer had to wait for a frame and shrinks by one when the frame was
// ready first, which settles where half the frames are a little late. A
// late frame costs the consumer at most the rest of one read; an early one
// costs its result the time it sat ready. Additive steps keep one slow
// invoke or a scheduling hiccup from inflating the lead (and the latency of
// the frames after it) the way doubling would.
func (c *Camera) pace(ctx context.Context) bool {
	select {
	case <-c.taken:
	case <-ctx.Done():
		return false
	}
	c.lead = nextLead(c.lead, c.waited.Swap(false))
	if at := c.wantAt.Load(); at != 0 {
		return c.sleep(ctx, time.Until(time.Unix(0, at))-c.nextReadCost()-c.lead)
	}
	return true
}

// nextLead is the read-ahead lead after a frame: one step more if the
// consumer had to wait for it, one step less if it was ready first.
func nextLead(lead time.Duration, waited bool) time.Duration {
	const step, maxLead = 100 * time.Microsecond, 20 * time.Millisecond
	if waited {
		return min(lead+step, maxLead)
	}
	return max(lead-step, 0)
}

// nextReadCost predicts how long the next read and resize take: for a
// folder from the next file's size, otherwise the moving average.
func (c *Camera) nextReadCost() time.Duration {
	c.nextSize = 0
	if c.src.Kind != Folder || c.fileIdx >= len(c.files) {
		return c.readCost
	}
	fi, err := os.Stat(filepath.Join(c.src.Raw, c.files[c.fileIdx]))
	if err != nil || fi.Size() <= 0 {
		return c.readCost
	}
	c.nextSize, c.nextIdx = fi.Size(), c.fileIdx
	if c.perByte == 0 {
		return c.readCost
	}
	return time.Duration(c.perByte * float64(c.nextSize))
}

// readTook folds one paced read's duration d into the cost estimates.
func (c *Camera) readTook(d time.Duration) {
	if c.readCost == 0 {
		c.readCost = d // the first read starts the average
	} else {
		c.readCost = (7*c.readCost + d) / 8
	}
	if c.nextSize > 0 && c.src.Kind == Folder && c.nextIdx == c.fileIdx-1 {
		if pb := float64(d) / float64(c.nextSize); c.perByte == 0 {
			c.perByte = pb
		} else {
			c.perByte = (7*c.perByte + pb) / 8
		}
	}
}

// Release gives a frame's buffer back for reuse.
func (c *Camera) Release(f *Frame) {
	if f == nil {
		return
	}
	select {
	case c.pool <- f:
	default:
	}
}

// Run captures until ctx ends (returns nil) or a non-looping file or folder
// has handed over its last frame (returns nil, and Next reports
// ErrEndOfInput). Failures never end Run: the source is reopened with
// backoff and State reports them.
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
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			c.reconnects.Add(1)
			c.setState(result.Reconnecting, nil)
			c.log.Info("reopening source", "in", delay)
			if !c.sleep(ctx, delay) {
				return nil
			}
			delay = min(delay*2, c.cfg.Backoff.Max)
		}
		if err := c.timedOpen(); err != nil {
			c.setState(result.Reconnecting, err)
			c.log.Warn("cannot open source", "err", err)
			continue
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
			file, err := c.read()
			c.busySince.Store(0)
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
			// Frame-rate cap.
			if c.cfg.FPS > 0 {
				period := time.Duration(float64(time.Second) / c.cfg.FPS)
				if c.src.Kind.Live() {
					if !last.IsZero() && t0.Sub(last) < period {
						c.skipped.Add(1)
						continue
					}
				} else if !last.IsZero() && !c.sleep(ctx, time.Until(last.Add(period))) {
					return nil
				}
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
	return c.open()
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

func (c *Camera) open() error {
	switch c.src.Kind {
	case Folder:
		entries, err := os.ReadDir(c.src.Raw)
		if err != nil {
			return fmt.Errorf("read folder %s: %w", c.src.Raw, err)
		}
		c.files = c.files[:0]
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff":
				if !e.IsDir() {
					c.files = append(c.files, e.Name())
				}
			}
		}
		sort.Strings(c.files)
		c.fileIdx = 0
		if len(c.files) == 0 {
			return fmt.Errorf("folder %s holds no images", c.src.Raw)
		}
		return nil
	case Device:
		var vc *gocv.VideoCapture
		var err error
		if c.src.Index >= 0 {
			vc, err = gocv.OpenVideoCapture(c.src.Index)
		} else {
			vc, err = gocv.OpenVideoCaptureWithAPI(c.src.Raw, gocv.VideoCaptureV4L2)
		}
		if err != nil {
			return fmt.Errorf("open device %s: %w", c.src.Raw, err)
		}
		c.vc = vc
	default:
		vc, err := gocv.OpenVideoCaptureWithAPI(c.src.Raw, gocv.VideoCaptureFFmpeg)
		if err != nil {
			return fmt.Errorf("open %s %s: %w", c.src.Kind, c.src.Raw, err)
		}
		c.vc = vc
	}
	if !c.vc.IsOpened() {
		c.closeSource()
		return fmt.Errorf("open %s %s: OpenCV could not open it", c.src.Kind, c.src.Raw)
	}
	return nil
}

// decodeFlags chooses how a folder's image is decoded. A JPEG much larger
// than the model's input is decoded at 1/2, 1/4 or 1/8 of its size (the
// decoder scales in the DCT domain, which averages like an area resize and
// costs a fraction of a full decode), keeping its shorter side at least as
// long as the input's longer side, so what follows is still a downscale for
// every resize mode and EXIF orientation. Not with an ROI: its coordinates
// are in the file's own pixels.
func (c *Camera) decodeFlags(path string) gocv.IMReadFlag {
	if !c.cfg.Spec.ROI.Empty() {
		return gocv.IMReadColor
	}
	w, h, ok := jpegSize(path)
	if !ok {
		return gocv.IMReadColor
	}
	need := max(c.cfg.Spec.Width, c.cfg.Spec.Height)
	for _, r := range []struct {
		f    int
		flag gocv.IMReadFlag
	}{{8, gocv.IMReadReducedColor8}, {4, gocv.IMReadReducedColor4}, {2, gocv.IMReadReducedColor2}} {
		if min(w, h)/r.f >= need {
			return r.flag
		}
	}
	return gocv.IMReadColor
}

// read reads the next raw frame into c.raw; for folders it returns the file name.
func (c *Camera) read() (string, error) {
	if c.src.Kind == Folder {
		if c.fileIdx >= len(c.files) {
			return "", errEnd
		}
		name := c.files[c.fileIdx]
		c.fileIdx++
		path := filepath.Join(c.src.Raw, name)
		img := gocv.IMRead(path, c.decodeFlags(path))
		if img.Empty() {
			img.Close()
			c.decodeErrs.Add(1)
			c.log.Warn("image skipped: cannot decode", "file", filepath.Join(c.src.Raw, name))
			return "", errSkip
		}
		c.raw.Close() // the decoded image becomes the raw frame: no copy
		c.raw = img
		return name, nil
	}
	if c.vc == nil {
		return "", errors.New("source is not open")
	}
	if c.src.Kind != File {
		// A broken frame in a stream fails one read at once and the next
		// read succeeds; a closed stream fails every read at once, a
		// stalled one after FFmpeg's read timeout. Only a slow failure or a
		// run of fast ones is the stream going down.
		for bad := 0; ; bad++ {
			t0 := time.Now()
			if c.vc.Read(&c.raw) && !c.raw.Empty() {
				if bad > 0 {
					c.decodeErrs.Add(uint64(bad))
					c.log.Warn("corrupt frames skipped", "count", bad)
				}
				return "", nil
			}
			if c.src.Kind != Stream || bad == maxStreamCorruptRun || time.Since(t0) > time.Second {
				return "", errors.New("read failed (stream down or device gone)")
			}
		}
	}
	// A corrupt frame fails one read and the next one succeeds; the end of
	// the file fails every read. Only a run of failures is the end.
	for bad := 0; ; bad++ {
		if c.vc.Read(&c.raw) && !c.raw.Empty() {
			if bad > 0 {
				c.decodeErrs.Add(uint64(bad))
				c.log.Warn("corrupt frames skipped", "count", bad)
			}
			return "", nil
		}
		if bad == maxCorruptRun {
			return "", errEnd
		}
	}
}

// maxCorruptRun is how many failed reads in a row a video file may have
// before it is taken to have ended.
const maxCorruptRun = 25

// maxStreamCorruptRun is how many quickly failed reads in a row a stream
// may have before it is taken to be down and is reopened.
const maxStreamCorruptRun = 4

// deliver crops and resizes c.raw into a pooled frame and hands it over.
func (c *Camera) deliver(ctx context.Context, number uint64, file string, t0 time.Time) error {
	t1 := time.Now()
	if c.raw.Channels() != 3 || c.raw.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("frame has %d channels of type %v, want 8-bit BGR", c.raw.Channels(), c.raw.Type())
	}
	size := image.Pt(c.raw.Cols(), c.raw.Rows())
	if size != c.plannedFor {
		if !c.plannedFor.Eq(image.Point{}) {
			c.log.Info("frame size changed", "width", size.X, "height", size.Y)
		}
		crop, dst, err := c.cfg.Spec.Plan(size.X, size.Y)
		c.plannedFor, c.planErr = size, err
		if err != nil {
			// Reported once per frame size, not once per frame.
			err = fmt.Errorf("%w: %dx%d frame: %w", errBadPlan, size.X, size.Y, err)
			c.planErr = err
			c.setState(result.Failed, err)
			c.log.Error("frames cannot be used", "err", err)
			return err
		}
		if c.State().State == result.Failed {
			c.setState(result.Streaming, nil)
		}
		c.crop, c.dst = crop, dst
	}
	if c.planErr != nil {
		return c.planErr
	}
	var f *Frame
	if c.src.Kind.Live() {
		select {
		case f = <-c.pool:
		default:
			// Every buffer is busy: the unconsumed frame is replaced.
			select {
			case f = <-c.ready:
				c.dropped.Add(1)
			case f = <-c.pool:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	} else {
		select {
		case f = <-c.pool:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := c.resize(f.Pixels); err != nil {
		c.Release(f)
		return err
	}
	f.Number, f.Captured, f.File = number, t0, file
	f.ReadDur, f.ResizeDur = t1.Sub(t0), time.Since(t1)
	if c.src.Kind.Live() {
		select {
		case c.ready <- f:
		default:
			select {
			case old := <-c.ready:
				c.dropped.Add(1)
				c.Release(old)
			default:
			}
			c.ready <- f
		}
		return nil
	}
	select {
	case c.ready <- f:
		return nil
	case <-ctx.Done():
		c.Release(f)
		return ctx.Err()
	}
}

// resize writes the planned crop of c.raw, scaled into the output, into dst.
func (c *Camera) resize(dst []byte) error {
	W, H := c.cfg.Spec.Width, c.cfg.Spec.Height
	region := c.raw.Region(image.Rect(c.crop.X, c.crop.Y, c.crop.X+c.crop.W, c.crop.Y+c.crop.H))
	defer region.Close()
	// Bilinear, as the models' own training pipelines resize; area
	// averaging (several times the CPU) only where bilinear would alias
	// badly, shrinking by more than 4 (1080p to 224 pixels).
	interp := gocv.InterpolationLinear
	if c.crop.W > 4*c.dst.W {
		interp = gocv.InterpolationArea
	}
	gocv.Resize(region, &c.resized, image.Pt(c.dst.W, c.dst.H), 0, 0, interp)
	out := &c.resized
	if c.dst.W != W || c.dst.H != H {
		pad := c.cfg.Spec.PadValue
		gocv.CopyMakeBorder(c.resized, &c.boxed, c.dst.Y, H-c.dst.Y-c.dst.H, c.dst.X, W-c.dst.X-c.dst.W,
			gocv.BorderConstant, color.RGBA{R: pad, G: pad, B: pad})
		out = &c.boxed
	}
	data, err := out.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("resized frame: %w", err)
	}
	if len(data) != len(dst) {
		return fmt.Errorf("resized frame has %d bytes, want %d", len(data), len(dst))
	}
	copy(dst, data)
	return nil
}

func (c *Camera) closeSource() {
	if c.vc != nil {
		c.vc.Close()
		c.vc = nil
	}
}

// Close releases the camera's OpenCV resources. Call it after Run has
// returned; it is safe to call twice.
func (c *Camera) Close() error {
	c.closeOnce.Do(func() {
		c.closeSource()
		c.raw.Close()
		c.resized.Close()
		c.boxed.Close()
	})
	return nil
}
