package camera

// The sources a camera reads raw frames from, in the shape of Benthos'
// inputs: Open connects, Read returns the next frame or says why not
// (errEnd: the input is over; errSkip: this one could not be used, try the
// next; anything else: the source failed and is reopened), Close releases.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/camera/vcap"
	"github.com/edged-io/edged/internal/preprocess"
)

// input reads raw BGR frames from one source.
type input interface {
	// Open opens the source (again, after a failure or to loop).
	Open() error
	// Read reads the next frame into raw. file is the image's name for
	// folders; corrupt counts the unreadable frames or images skipped on
	// the way, which the camera counts as decode errors.
	Read(raw *gocv.Mat) (file string, corrupt int, err error)
	// Close releases what Open took; it is safe to call twice.
	Close()
}

// streamOptions are a stream's decoding choices (Config's Decode,
// Transport, Decoder) and the height key frames are scaled to.
type streamOptions struct {
	decode    Decode
	transport string
	decoder   string
	scale     int
	fresh     bool // no FPS cap: every frame may be inferred, the newest at once
}

// newInput returns the input for src.
func newInput(src Source, spec preprocess.Spec, maxPixels int, so streamOptions, log *slog.Logger) input {
	switch src.Kind {
	case Folder:
		return &folderInput{dir: src.Raw, spec: spec, maxPixels: maxPixels, log: log}
	case Device:
		// A device fails its first bad read: it is gone.
		return &videoInput{src: src, api: gocv.VideoCaptureV4L2, failed: errReadFailed}
	case Stream, Pipeline:
		// A broken frame in a stream fails one read at once and the next
		// read succeeds; a closed stream fails every read at once, a
		// stalled one after FFmpeg's read timeout. Only a slow failure or
		// a run of fast ones is the stream going down.
		api := gocv.VideoCaptureFFmpeg
		if src.Kind == Pipeline {
			api = gocv.VideoCaptureGstreamer
		}
		// want is chosen before each open (Camera.chooseDecode).
		return &videoInput{src: src, api: api, maxRun: maxStreamCorruptRun, slowFails: true, failed: errReadFailed, opts: so, log: log}
	default:
		// A corrupt frame fails one read and the next one succeeds; the
		// end of the file fails every read. Only a run of failures is the
		// end.
		return &videoInput{src: src, api: gocv.VideoCaptureFFmpeg, maxRun: maxCorruptRun, failed: errEnd}
	}
}

// A stream's open and read timeouts in OpenCV's FFmpeg backend, ms.
const (
	streamOpenTimeout = 15000
	streamReadTimeout = 5000
)

var errReadFailed = errors.New("read failed (stream down or device gone)")

// maxCorruptRun is how many failed reads in a row a video file may have
// before it is taken to have ended.
const maxCorruptRun = 25

// maxStreamCorruptRun is how many quickly failed reads in a row a stream
// may have before it is taken to be down and is reopened.
const maxStreamCorruptRun = 4

// videoInput is a device, stream, GStreamer pipeline or video file read
// through OpenCV's VideoCapture.
type videoInput struct {
	src       Source
	api       gocv.VideoCaptureAPI
	maxRun    int   // corrupt frames in a row that are skipped
	slowFails bool  // a read failing after more than a second fails the source
	failed    error // what a failed read means: errEnd (files) or errReadFailed
	opts      streamOptions
	want      Decode // streams: what the next Open decodes (DecodeAll or DecodeKeyframes)
	log       *slog.Logger
	vc        *vcap.Capture
	gst       bool     // vc is GStreamer's: its grabs wait on grabLoop, with a timeout
	i420      bool     // vc gives I420 frames, converted to BGR by Retrieve
	yuv       gocv.Mat // Retrieve's I420 frame, while i420
	noGst     bool     // GStreamer could not open the stream when FFmpeg could: FFmpeg from then on
	// GStreamer grabs run on grabLoop's goroutine, so that a stalled one
	// can be given up (grab).
	grabs       chan *vcap.Capture
	grabbed     chan bool
	timer       *time.Timer
	keyInterval time.Duration // the measured key-frame interval, for the grab timeout
}

// keyframes reports whether the open source decodes key frames only.
func (v *videoInput) keyframes() bool { return v.src.Kind == Stream && v.want == DecodeKeyframes }

// fullThroughGStreamer reports whether the next Open decodes every frame
// of an RTSP stream through GStreamer (fullPipeline): for a camera without
// an FPS cap, which takes the newest frame whenever inference is free, so
// that a frame comes out of the decoder as soon as it is decoded; unless
// an FFmpeg decoder is asked for, or GStreamer failed where FFmpeg did
// not. With a cap, FFmpeg decodes (about 6% less CPU at 1080p, where
// GStreamer's decoder copies each frame once more: docs/streams.md).
func (v *videoInput) fullThroughGStreamer() bool {
	return v.src.Kind == Stream && v.want == DecodeAll && v.opts.fresh && isRTSP(v.src.Raw) && v.opts.decoder == "" && !v.noGst
}

// decoder is the backend of the open source: "gstreamer" or "ffmpeg"
// for a stream, "" for anything else or while closed.
func (v *videoInput) decoder() string {
	switch {
	case v.vc == nil || v.src.Kind != Stream:
		return ""
	case v.gst:
		return "gstreamer"
	default:
		return "ffmpeg"
	}
}

func (v *videoInput) Open() error {
	if v.src.Kind == File && !regular(v.src.Raw, nil) {
		if _, err := os.Stat(v.src.Raw); err != nil {
			return fmt.Errorf("open video file: %w", err)
		}
		return fmt.Errorf("open video file %s: not a regular file (a FIFO or device would block the read for ever)", v.src.Raw)
	}
	if err := v.precheck(); err != nil {
		return err
	}
	var vc *vcap.Capture
	var err error
	gst, i420 := false, false
	switch {
	case v.src.Kind == Device && v.src.Index >= 0:
		vc, err = vcap.OpenIndex(v.src.Index, gocv.VideoCaptureAny)
	case v.keyframes():
		if err := reachable(v.src.Raw); err != nil {
			return err
		}
		vc, err = openGStreamer(keyframePipeline(v.src.Raw, v.opts.transport, v.opts.scale))
		if err != nil {
			return fmt.Errorf("open stream %s for key frames through GStreamer: %w (GStreamer's own message is in the log at debug level; it needs gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad and gstreamer1.0-libav, or set decode: all)", v.src.Raw, err)
		}
		gst = true
	case v.src.Kind == Pipeline:
		vc, err = openGStreamer(v.src.Raw)
		if err != nil {
			return fmt.Errorf("start GStreamer pipeline %q: %w (GStreamer's own message is in the log at debug level: a missing element or a pipeline that does not link)", v.src.Raw, err)
		}
		gst = true
	case v.fullThroughGStreamer():
		if err := reachable(v.src.Raw); err != nil {
			return err
		}
		vc, err = openGStreamer(fullPipeline(v.src.Raw, v.opts.transport))
		gst, i420 = err == nil, err == nil
		if err != nil {
			gerr := err
			if vc, err = v.openFFmpeg(); err == nil {
				// The stream is there, and GStreamer cannot read it (its
				// plugins are missing, or the codec is not one it has).
				v.noGst = true
				v.log.Warn("decoding every frame through FFmpeg: GStreamer could not open the stream (it needs gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad and gstreamer1.0-libav); FFmpeg's decoder is a frame or two later", "gstreamer_err", gerr)
			}
		}
	default:
		vc, err = v.openFFmpeg()
		if err != nil && v.opts.decoder != "" {
			return fmt.Errorf("open %s %s with FFmpeg decoder %s: %w (is the decoder in this FFmpeg build, and its device present?)", v.src.Kind, v.src.Raw, v.opts.decoder, err)
		}
	}
	if err != nil {
		if why := v.explain(); why != nil {
			return why
		}
		if v.src.Kind == File {
			// OpenCV says only "Error opening file … with api backend: 1900".
			return fmt.Errorf("open video file %s: not a video OpenCV can read (no container or codec it knows; %d bytes)", v.src.Raw, fileSize(v.src.Raw))
		}
		return fmt.Errorf("open %s %s: %w", v.src.Kind, v.src.Raw, err)
	}
	v.vc, v.gst, v.i420 = vc, gst, i420
	return nil
}

// gstOpenTimeout is how long a GStreamer pipeline may take to start.
const gstOpenTimeout = 20 * time.Second

// openGStreamer starts pipeline through OpenCV's GStreamer backend. OpenCV
// 4.6 waits for the pipeline to start without a limit, and misses an
// error that rtspsrc posts early (a server that refuses the connection):
// the open then never returns. After gstOpenTimeout the open is given up:
// it goes on in a goroutine of its own, which closes the capture if the
// open ever returns (its thread and memory are held until then), and the
// camera tries again after its backoff. reachable keeps the usual case,
// a camera that is down, from getting this far.
func openGStreamer(pipeline string) (*vcap.Capture, error) {
	type opened struct {
		vc  *vcap.Capture
		err error
	}
	done := make(chan opened, 1)
	go func() {
		vc, err := vcap.Open(pipeline, gocv.VideoCaptureGstreamer)
		done <- opened{vc, err}
	}()
	t := time.NewTimer(gstOpenTimeout)
	defer t.Stop()
	select {
	case o := <-done:
		return o.vc, o.err
	case <-t.C:
		go func() {
			if o := <-done; o.vc != nil {
				o.vc.Close()
			}
		}()
		return nil, fmt.Errorf("GStreamer did not start the pipeline in %v (given up)", gstOpenTimeout)
	}
}

// reachable checks that a stream's server accepts a TCP connection, before
// GStreamer is asked to open it (openGStreamer).
func reachable(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil // GStreamer says what is wrong with it
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"rtsp": "554", "rtsps": "322", "http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	if port == "" {
		return nil
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(u.Hostname(), port), streamReadTimeout*time.Millisecond)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", u.Redacted(), err)
	}
	conn.Close()
	return nil
}

// openFFmpeg opens the source through OpenCV's FFmpeg backend (or the
// input's own API), with the camera's FFmpeg options and, for a stream,
// OpenCV's open and read timeouts.
func (v *videoInput) openFFmpeg() (*vcap.Capture, error) {
	set := map[string]string{}
	if v.opts.transport != "" {
		set["rtsp_transport"] = v.opts.transport
	}
	if v.opts.decoder != "" {
		set["video_codec"] = v.opts.decoder
	}
	var params []int
	if v.src.Kind == Stream {
		// OpenCV's own timeouts, which hold whatever FFmpeg's protocol
		// does with its options: a stalled stream fails a read.
		params = []int{vcap.PropOpenTimeoutMsec, streamOpenTimeout, vcap.PropReadTimeoutMsec, streamReadTimeout}
	}
	var vc *vcap.Capture
	err := withFFmpegOptions(set, func() error {
		var err error
		vc, err = vcap.Open(v.src.Raw, v.api, params...)
		return err
	})
	return vc, err
}

// fileSize is the size of the file at path, or -1.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

// precheck says why a device cannot work before OpenCV tries and reports
// only "could not open": its path does not exist.
func (v *videoInput) precheck() error {
	if v.src.Kind == Device && v.src.Index < 0 {
		if _, err := os.Stat(v.src.Raw); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open device %s: no such device (is the camera plugged in?)", v.src.Raw)
		}
	}
	return nil
}

// explain says, after OpenCV failed to open an HTTP stream, why: the
// server answers with an error status or sends an HTML page. It asks only
// then, since a camera may serve few clients at a time. Nil when it cannot
// tell.
func (v *videoInput) explain() error {
	switch {
	case v.src.Kind == Stream && (strings.HasPrefix(v.src.Raw, "http://") || strings.HasPrefix(v.src.Raw, "https://")):
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.src.Raw, nil)
		if err != nil {
			return fmt.Errorf("open stream %s: %w", v.src.Raw, err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil // unreachable now: OpenCV's attempt and the backoff handle it
		}
		res.Body.Close() // only the status line and headers are read
		if res.StatusCode >= 400 {
			return fmt.Errorf("open stream %s: the server answers %s", v.src.Raw, res.Status)
		}
		if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			return fmt.Errorf("open stream %s: the server sends an HTML page (%s), not a video stream", v.src.Raw, ct)
		}
	}
	return nil
}

// Read grabs and retrieves the next frame.
func (v *videoInput) Read(raw *gocv.Mat) (string, int, error) {
	corrupt, err := v.Grab()
	if err != nil {
		return "", corrupt, err
	}
	if err := v.Retrieve(raw); err != nil {
		return "", corrupt + 1, err
	}
	return "", corrupt, nil
}

// Grab is the one corrupt-frame loop: it takes the next frame from the
// source (decoding it where the backend must) without converting it. Up
// to maxRun failed grabs in a row are skipped (and counted); one more, or
// a slow one where that means a stalled stream, is the input failing or
// ending.
func (v *videoInput) Grab() (int, error) {
	if v.vc == nil {
		return 0, errors.New("source is not open")
	}
	for bad := 0; ; bad++ {
		t0 := time.Now()
		ok, err := v.grab()
		if err != nil {
			return 0, err
		}
		if ok {
			return bad, nil
		}
		if bad == v.maxRun || (v.slowFails && time.Since(t0) > time.Second) {
			return 0, v.failed
		}
	}
}

// grab grabs one frame. Through GStreamer it waits at most the grab
// timeout: OpenCV 4.6's GStreamer backend has no read timeout, and a
// stream that stalls with its connection open (a camera that hangs, a
// network that drops packets without a reset) leaves the grab waiting
// for ever. The capture is then given up: its grab goes on in a goroutine
// of its own, which closes the capture if the grab ever returns, and the
// camera reopens the source.
func (v *videoInput) grab() (bool, error) {
	if !v.gst {
		return v.vc.Grab(), nil
	}
	if v.grabs == nil {
		v.grabs, v.grabbed = make(chan *vcap.Capture), make(chan bool, 1)
		go grabLoop(v.grabs, v.grabbed)
	}
	v.grabs <- v.vc
	timeout := v.grabTimeout()
	if v.timer == nil {
		v.timer = time.NewTimer(timeout)
	} else {
		v.timer.Reset(timeout)
	}
	select {
	case ok := <-v.grabbed:
		v.timer.Stop()
		return ok, nil
	case <-v.timer.C:
		vc, grabbed := v.vc, v.grabbed
		close(v.grabs) // grabLoop ends once the stuck grab returns
		v.vc, v.grabs, v.grabbed = nil, nil, nil
		go func() {
			<-grabbed
			vc.Close()
		}()
		return false, fmt.Errorf("%w: no frame for %v through GStreamer (the capture is given up)", errStalled, timeout.Round(time.Second))
	}
}

// grabLoop grabs from each capture it is given, one at a time, and says
// whether it got a frame; it ends when grabs is closed.
func grabLoop(grabs <-chan *vcap.Capture, grabbed chan<- bool) {
	for vc := range grabs {
		grabbed <- vc.Grab()
	}
}

// grabTimeout is how long a GStreamer grab may wait: a key frame is
// waited for up to twice the measured key-frame interval (or 20 s until
// it is known) on top of the stream read timeout.
func (v *videoInput) grabTimeout() time.Duration {
	if v.src.Kind == Pipeline {
		return pipelineGrabTimeout
	}
	if !v.keyframes() {
		// Every frame: the stream read timeout, and a second for the
		// decoder.
		return streamReadTimeout*time.Millisecond + time.Second
	}
	gap := 10 * time.Second
	if v.keyInterval > 0 {
		gap = v.keyInterval
	}
	return streamReadTimeout*time.Millisecond + 2*gap
}

// pipelineGrabTimeout is how long a grab from a user's GStreamer pipeline
// may wait for a frame.
const pipelineGrabTimeout = 20 * time.Second

var errStalled = errors.New("read failed (stream stalled)")

// Retrieve converts the frame Grab took into raw; a frame that does not
// convert is skipped.
func (v *videoInput) Retrieve(raw *gocv.Mat) error {
	if v.vc == nil {
		return errors.New("source is not open")
	}
	if !v.i420 {
		if !v.vc.Retrieve(raw) {
			return errSkip
		}
		return nil
	}
	if v.yuv.Ptr() == nil {
		v.yuv = gocv.NewMat()
	}
	if !v.vc.Retrieve(&v.yuv) {
		return errSkip
	}
	// OpenCV gives an I420 frame as one plane, its height 3/2 the frame's.
	if v.yuv.Type() != gocv.MatTypeCV8UC1 || v.yuv.Rows()%3 != 0 || v.yuv.Cols()%2 != 0 {
		return errSkip
	}
	gocv.CvtColor(v.yuv, raw, gocv.ColorYUVToBGRIYUV)
	return nil
}

// position is the grabbed frame's timestamp in the stream, or 0.
func (v *videoInput) position() float64 {
	if v.vc == nil {
		return 0
	}
	return v.vc.Get(vcap.PropPosMsec)
}

func (v *videoInput) Close() {
	if v.vc != nil {
		v.vc.Close()
		v.vc = nil
	}
	if v.yuv.Ptr() != nil {
		v.yuv.Close()
		v.yuv = gocv.Mat{}
	}
	if v.grabs != nil {
		close(v.grabs)
		v.grabs, v.grabbed = nil, nil
	}
}

// folderInput is a folder of images, read in name order.
type folderInput struct {
	dir       string
	spec      preprocess.Spec
	maxPixels int // an image above it is skipped before decoding
	log       *slog.Logger
	files     []string
	next      int // index of the next file to read
}

func (f *folderInput) Open() error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", f.dir, err)
	}
	f.files = f.files[:0]
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // hidden files: editors' and macOS's ._ companions are no photos
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff":
			if regular(filepath.Join(f.dir, e.Name()), e) {
				f.files = append(f.files, e.Name())
			}
		}
	}
	sort.Strings(f.files)
	f.next = 0
	if len(f.files) == 0 {
		return fmt.Errorf("folder %s holds no images", f.dir)
	}
	return nil
}

// Read decodes the next image; the decoded image becomes raw, without a
// copy.
func (f *folderInput) Read(raw *gocv.Mat) (string, int, error) {
	if f.next >= len(f.files) {
		return "", 0, errEnd
	}
	name := f.files[f.next]
	f.next++
	path := filepath.Join(f.dir, name)
	if !regular(path, nil) {
		// Replaced since the listing by a FIFO or device, whose read
		// would block for ever.
		f.log.Warn("image skipped: not a regular file", "file", path)
		return name, 1, errSkip
	}
	if w, h, ok := imageSize(path); ok && int64(w)*int64(h) > int64(f.maxPixels) {
		f.log.Warn("image skipped: larger than the pixel budget", "file", path, "width", w, "height", h, "max_pixels", f.maxPixels)
		return name, 1, errSkip
	}
	img := gocv.IMRead(path, decodeFlags(f.spec, path))
	if img.Empty() {
		img.Close()
		f.log.Warn("image skipped: cannot decode", "file", path)
		return name, 1, errSkip
	}
	raw.Close()
	*raw = img
	return name, 0, nil
}

func (f *folderInput) Close() {}

// regular reports whether path is a regular file (following a symbolic
// link): a FIFO, socket or device would block or never end a read. e, when
// given, saves the stat of a directory entry that is plainly regular.
func regular(path string, e os.DirEntry) bool {
	if e != nil && e.Type().IsRegular() {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// nextSize is the size of the file the next Read decodes and its index, or
// 0 when unknown.
func (f *folderInput) nextSize() (int64, int) {
	if f.next >= len(f.files) {
		return 0, f.next
	}
	fi, err := os.Stat(filepath.Join(f.dir, f.files[f.next]))
	if err != nil {
		return 0, f.next
	}
	return fi.Size(), f.next
}

// decodeFlags chooses how a folder's image is decoded. A JPEG much larger
// than the model's input is decoded at 1/2, 1/4 or 1/8 of its size (the
// decoder scales in the DCT domain, which averages like an area resize and
// costs a fraction of a full decode), keeping its shorter side at least as
// long as the input's longer side, so what follows is still a downscale for
// every resize mode and EXIF orientation. Not with an ROI: its coordinates
// or a region's box: their coordinates are in the file's own pixels.
func decodeFlags(spec preprocess.Spec, path string) gocv.IMReadFlag {
	if !spec.ROI.Empty() || !spec.Box.IsZero() {
		return gocv.IMReadColor
	}
	w, h, ok := jpegSize(path)
	if !ok {
		return gocv.IMReadColor
	}
	need := max(spec.Width, spec.Height)
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

// CheckSource checks what can be checked of a source without opening a
// camera or a stream (edged check-config): it parses, a video file exists
// as a regular file, and a folder can be read and holds images.
func CheckSource(source string) error {
	src, err := ParseSource(source)
	if err != nil {
		return err
	}
	switch src.Kind {
	case File:
		fi, err := os.Stat(src.Raw)
		if err != nil {
			return fmt.Errorf("video file: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("video file %s: not a regular file", src.Raw)
		}
	case Folder:
		return (&folderInput{dir: src.Raw}).Open()
	}
	return nil
}
