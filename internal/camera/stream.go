package camera

// How a network stream is decoded: every frame through OpenCV's FFmpeg
// backend (grabbed, and converted only when used), or only its key frames
// through OpenCV's GStreamer backend, which drops the delta units before
// the decoder sees them (OpenCV 4.6's FFmpeg backend ignores FFmpeg's
// skip_frame option: docs/streams.md).

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/preprocess"
)

// Decode is a stream's decode mode.
type Decode string

// Decode modes.
const (
	// DecodeAuto decodes key frames only when the frame-rate cap is at
	// or below the stream's key-frame rate (measured from the stream),
	// and every frame otherwise.
	DecodeAuto Decode = "auto"
	// DecodeAll decodes every frame.
	DecodeAll Decode = "all"
	// DecodeKeyframes decodes key frames only.
	DecodeKeyframes Decode = "keyframes"
)

// DecodeModes lists the decode modes, for the configuration's checks.
var DecodeModes = []string{string(DecodeAuto), string(DecodeAll), string(DecodeKeyframes)}

// Transports are the RTSP transports a camera may ask for.
var Transports = []string{"tcp", "udp"}

// keyframePipeline is the GStreamer pipeline that reads the stream at url
// and decodes only its key frames. Demuxing and depayloading (parsebin)
// and the decoder (decodebin) are chosen by GStreamer for the stream's
// codec; the parsers mark every frame but the key frames as delta units,
// which identity drops. scale, when not zero, is the height frames are
// scaled down to before the BGR conversion (scaleStep).
func keyframePipeline(url, transport string, scale int) string {
	var b strings.Builder
	b.WriteString(streamSource(url, transport))
	b.WriteString("parsebin ! identity drop-buffer-flags=delta-unit ! decodebin ! ")
	b.WriteString(scaleStep(scale))
	b.WriteString("videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false")
	return b.String()
}

// fullPipeline is the GStreamer pipeline that decodes every frame of the
// RTSP stream at url. GStreamer's libav decoder decodes a live stream
// slice-threaded, so a frame comes out as soon as it is decoded, where
// OpenCV 4.6's FFmpeg backend decodes frame-threaded, a frame per extra
// thread behind (about 40 ms more label lag at 30 fps: docs/streams.md).
// Frames leave the pipeline as I420, as the decoder makes them; only a
// frame edged keeps is converted to BGR (videoInput.Retrieve).
func fullPipeline(url, transport string) string {
	return streamSource(url, transport) + "parsebin ! decodebin ! videoconvert ! video/x-raw,format=I420 ! appsink drop=true max-buffers=1 sync=false"
}

// streamSource is the GStreamer source element for the stream at url.
func streamSource(url, transport string) string {
	if isRTSP(url) {
		if transport == "" {
			transport = "tcp"
		}
		// tcp-timeout and timeout (µs): no data for 5 s is an error
		// rather than a read that waits for ever.
		return fmt.Sprintf("rtspsrc location=%s protocols=%s latency=0 tcp-timeout=5000000 timeout=5000000 ! ", gstQuote(url), transport)
	}
	return fmt.Sprintf("urisourcebin uri=%s ! ", gstQuote(url))
}

// isRTSP reports whether url is an rtsp:// or rtsps:// URL.
func isRTSP(url string) bool {
	lower := strings.ToLower(url)
	return strings.HasPrefix(lower, "rtsp://") || strings.HasPrefix(lower, "rtsps://")
}

// scaleStep scales frames down to at most height rows, square pixels and
// the stream's aspect ratio kept (never up: a smaller stream passes as it
// is); nothing when height is zero.
func scaleStep(height int) string {
	if height <= 0 {
		return ""
	}
	return fmt.Sprintf("videoscale ! video/x-raw,height=[1,%d],pixel-aspect-ratio=1/1 ! ", height)
}

// gstQuote quotes a property value for gst_parse_launch.
func gstQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// ffmpegEnv is the environment variable OpenCV's FFmpeg backend reads its
// options from, at each open.
const ffmpegEnv = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

// ffmpegEnvMu serializes the opens that set ffmpegEnv for one camera's
// options. The environment is the process's, so the lock is too: it is
// the one piece of package state.
var ffmpegEnvMu sync.Mutex

// withFFmpegOptions runs open with ffmpegEnv holding its current options
// (key;value pairs joined by |) with set's keys replaced, and restores it
// after. With nothing to set, open runs as it is.
func withFFmpegOptions(set map[string]string, open func() error) error {
	if len(set) == 0 {
		return open()
	}
	ffmpegEnvMu.Lock()
	defer ffmpegEnvMu.Unlock()
	old, had := os.LookupEnv(ffmpegEnv)
	if err := os.Setenv(ffmpegEnv, mergeFFmpegOptions(old, set)); err != nil {
		return fmt.Errorf("set %s: %w", ffmpegEnv, err)
	}
	defer func() {
		if had {
			os.Setenv(ffmpegEnv, old)
		} else {
			os.Unsetenv(ffmpegEnv)
		}
	}()
	return open()
}

// mergeFFmpegOptions replaces or adds set's keys in opts, keeping the
// order of opts and adding new keys in sorted order.
func mergeFFmpegOptions(opts string, set map[string]string) string {
	var out []string
	done := map[string]bool{}
	for _, kv := range strings.Split(opts, "|") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, ";")
		if v, ok := set[k]; ok {
			kv = k + ";" + v
			done[k] = true
		}
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if !done[k] {
			out = append(out, k+";"+set[k])
		}
	}
	return strings.Join(out, "|")
}

// streamOpts checks cfg's decoding choices against the source.
func streamOpts(cfg Config, src Source) (streamOptions, error) {
	so := streamOptions{decode: cfg.Decode, transport: cfg.Transport, decoder: cfg.Decoder, fresh: cfg.FPS == 0}
	if so.decode == "" {
		so.decode = DecodeAuto
	}
	if !slices.Contains(DecodeModes, string(so.decode)) {
		return so, fmt.Errorf("decode %q: want one of %s", so.decode, strings.Join(DecodeModes, ", "))
	}
	rtsp := src.Kind == Stream && isRTSP(src.Raw)
	if so.transport != "" {
		if !slices.Contains(Transports, so.transport) {
			return so, fmt.Errorf("rtsp_transport %q: want tcp or udp", so.transport)
		}
		if !rtsp && cfg.Preset == "" {
			return so, fmt.Errorf("rtsp_transport %q: only for rtsp:// sources", so.transport)
		}
	}
	if so.decoder != "" {
		if !validDecoderName(so.decoder) {
			return so, fmt.Errorf("ffmpeg_decoder %q: not an FFmpeg decoder name (such as h264_v4l2m2m)", so.decoder)
		}
		if src.Kind != Stream && src.Kind != File {
			return so, fmt.Errorf("ffmpeg_decoder %q: only for streams and video files (FFmpeg decodes them); a %s source is not", so.decoder, src.Kind)
		}
		if so.decode == DecodeKeyframes {
			return so, fmt.Errorf("ffmpeg_decoder %q: key frames are decoded through GStreamer (decode: keyframes), not FFmpeg", so.decoder)
		}
		if so.decode == DecodeAuto {
			so.decode = DecodeAll // the decoder asked for is FFmpeg's
		}
	}
	if src.Kind != Stream {
		if so.decode == DecodeKeyframes {
			return so, fmt.Errorf("decode: keyframes is for network streams (rtsp://, http://…); a %s source is decoded in full", src.Kind)
		}
		so.decode = DecodeAll
	}
	so.scale = scaleHeight(cfg.Views)
	return so, nil
}

// validDecoderName reports whether s looks like an FFmpeg codec name.
func validDecoderName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return len(s) <= 64
}

// scaleHeight is the height key frames are scaled to inside the GStreamer
// pipeline, before the BGR conversion: twice the longest side of the
// largest model input, or 0 (no scaling) when a view's ROI or box is in
// the stream's own pixels.
func scaleHeight(views []preprocess.Spec) int {
	h := 0
	for _, v := range views {
		if !v.ROI.Empty() || !(v.Box.IsZero() || v.Box.X.Frac && v.Box.Y.Frac && v.Box.W.Frac && v.Box.H.Frac) {
			return 0
		}
		h = max(h, 2*max(v.Width, v.Height))
	}
	return h
}

// keyframeProbe chooses a stream's decode mode and measures its key-frame
// interval while it decodes key frames.
type keyframeProbe struct {
	mode     Decode // auto: the choice, kept over reopenings; "" until made
	fallback bool   // auto: GStreamer did not open the stream; FFmpeg is tried
	warned   bool   // keyframes: "too few for the FPS cap" was logged
	keyframeSpan
}

// keyframeSpan measures the interval between a stream's key frames since
// it opened: the mean over all of them, so that one key frame held up by
// the network or the decoder does not count as a long gap (on loopback a
// 1 s interval was measured as 1.07 s from one pair of key frames).
type keyframeSpan struct {
	n                 int       // intervals seen
	firstPos, lastPos float64   // stream positions (ms), 0 where there is none
	firstAt, lastAt   time.Time // arrival times
}

// add records a key frame at stream position pos (ms; 0 where the stream
// gives none) that arrived at at. It returns the interval from the key
// frame before and the mean interval since the first, in seconds, each
// from stream positions where the stream gives them and from arrival
// times otherwise; n is 0 for the first key frame.
func (s *keyframeSpan) add(pos float64, at time.Time) (last, mean float64, n int) {
	if s.firstAt.IsZero() {
		s.firstPos, s.firstAt, s.lastPos, s.lastAt = pos, at, pos, at
		return 0, 0, 0
	}
	s.n++
	last = seconds(s.lastPos, pos, s.lastAt, at)
	mean = seconds(s.firstPos, pos, s.firstAt, at) / float64(s.n)
	s.lastPos, s.lastAt = pos, at
	return last, mean, s.n
}

// seconds is the time from (pos0, at0) to (pos1, at1): by stream position
// (ms) where both have one and it moved forward, else by arrival.
func seconds(pos0, pos1 float64, at0, at1 time.Time) float64 {
	if pos0 > 0 && pos1 > pos0 {
		return (pos1 - pos0) / 1000
	}
	return at1.Sub(at0).Seconds()
}

// chooseDecode sets what the next open of a stream decodes.
func (c *Camera) chooseDecode() {
	if c.src.Kind != Stream {
		return
	}
	k := &c.keys
	k.keyframeSpan = keyframeSpan{}
	want := c.video.opts.decode
	if want == DecodeAuto {
		switch {
		case c.cfg.FPS == 0:
			// Every frame may be wanted: nothing to leave undecoded.
			want = DecodeAll
		case k.fallback:
			want = DecodeAll
		case k.mode != "":
			want = k.mode
		default:
			want = DecodeKeyframes // until the key-frame rate is known
		}
	}
	c.video.want = want
	c.mu.Lock()
	c.status.Decode = string(want)
	c.mu.Unlock()
}

// openFailed handles a failed open in decode: auto while key frames are
// tried: the stream is tried once with FFmpeg in full; if that opens,
// GStreamer was what failed and the choice is made. It reports whether to
// reopen at once.
func (k *keyframeProbe) openFailed(c *Camera, err error) bool {
	if c.src.Kind != Stream || c.video.opts.decode != DecodeAuto || c.video.want != DecodeKeyframes {
		k.fallback = false
		return false
	}
	c.log.Debug("key frames through GStreamer failed; trying FFmpeg", "err", err)
	k.fallback = true
	return true
}

// opened records, after a successful open, a choice made by falling back.
func (k *keyframeProbe) opened(c *Camera) {
	if k.fallback && k.mode == "" {
		k.mode = DecodeAll
		c.log.Warn("decode: all frames: GStreamer could not open the stream for key frames (decode: keyframes needs gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad and gstreamer1.0-libav)")
	}
}

// observe measures the key-frame interval from the frame just grabbed
// (its stream timestamp, or its arrival time where there is none). In
// decode: auto it makes the choice: it reports true when the key frames
// come less often than the FPS cap asks, and the stream is to be reopened
// decoding every frame. The choice is made on the mean of the first three
// intervals, or at once on one interval of more than twice the cap's
// period, which no jitter explains.
func (k *keyframeProbe) observe(c *Camera, at time.Time) bool {
	last, mean, n := k.add(c.video.position(), at)
	if n == 0 {
		return false
	}
	c.video.keyInterval = time.Duration(mean * float64(time.Second))
	c.mu.Lock()
	c.status.KeyframeInterval = math.Round(mean*1000) / 1000
	c.mu.Unlock()
	if c.cfg.FPS == 0 {
		return false
	}
	period := 1 / c.cfg.FPS
	decided := n >= keyframeIntervals || last > 2*period
	short := mean <= 1.05*period && last <= 2*period
	if c.video.opts.decode == DecodeKeyframes {
		if decided && !short && !k.warned {
			k.warned = true
			c.log.Warn("decode: keyframes gives fewer frames than the FPS cap asks", "keyframe_interval_s", mean, "fps", c.cfg.FPS)
		}
		return false
	}
	if k.mode != "" || !decided {
		return false
	}
	if !short {
		k.mode = DecodeAll
		c.log.Info("decode: all frames: the stream's key frames are too far apart for the FPS cap", "keyframe_interval_s", mean, "fps", c.cfg.FPS)
		return true
	}
	k.mode = DecodeKeyframes
	c.log.Info("decode: key frames only: the FPS cap is at or below the stream's key-frame rate", "keyframe_interval_s", mean, "fps", c.cfg.FPS)
	return false
}

// keyframeIntervals is how many key-frame intervals decode: auto measures
// before it chooses.
const keyframeIntervals = 3

// Preset is a GStreamer pipeline for a board's hardware decoder or camera,
// filled in from a camera's source (an rtsp:// URL, or "csi" for a board
// camera) and its model input. Pipelines end in a BGR appsink that keeps
// only the newest frame, and scale frames down to twice the model input's
// longest side before the BGR conversion (unless an ROI or region is in
// the stream's pixels), so a 1080p frame is never held as BGR.
type Preset struct {
	Name     string
	Board    string // what it is for
	Source   string // "rtsp" (source is an rtsp:// URL) or "csi" (source is csi)
	Pipeline string // with {url}, {transport}, {scale} (scaleStep) and {height} (",height=[1,N]" or nothing)
	Tested   string // where it has run
}

// appsinkTail ends every preset: BGR, newest frame only.
const appsinkTail = "videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false"

// Presets are the GStreamer pipelines edged ships (docs/streams.md).
var Presets = []Preset{
	{Name: "software-rtsp", Board: "any (FFmpeg's H.264 decoder inside GStreamer)", Source: "rtsp",
		Pipeline: "rtspsrc location={url} protocols={transport} latency=0 ! rtph264depay ! h264parse ! avdec_h264 ! {scale}" + appsinkTail,
		Tested:   "make test (amd64), against GStreamer's RTSP server"},
	{Name: "pi-rtsp", Board: "Raspberry Pi 4 (the V4L2 stateful H.264 decoder)", Source: "rtsp",
		Pipeline: "rtspsrc location={url} protocols={transport} latency=0 ! rtph264depay ! h264parse ! v4l2h264dec ! {scale}" + appsinkTail,
		Tested:   "not on a board: elements as gstreamer1.0-plugins-good documents them"},
	{Name: "pi-csi", Board: "Raspberry Pi camera module (libcamera)", Source: "csi",
		Pipeline: "libcamerasrc ! video/x-raw,width=1280,height=720,framerate=15/1 ! {scale}" + appsinkTail,
		Tested:   "not on a board: needs gstreamer1.0-libcamera"},
	{Name: "jetson-rtsp", Board: "Jetson (JetPack's NVDEC decoder, in NVIDIA's container runtime)", Source: "rtsp",
		Pipeline: "rtspsrc location={url} protocols={transport} latency=0 ! rtph264depay ! h264parse ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx{height},pixel-aspect-ratio=1/1 ! " + appsinkTail,
		Tested:   "not on a board: elements as NVIDIA's accelerated GStreamer guide names them"},
	{Name: "jetson-csi", Board: "Jetson CSI camera (Argus)", Source: "csi",
		Pipeline: "nvarguscamerasrc ! video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1 ! nvvidconv ! video/x-raw,format=BGRx{height},pixel-aspect-ratio=1/1 ! " + appsinkTail,
		Tested:   "not on a board"},
}

// PresetNames lists the presets' names.
func PresetNames() []string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.Name
	}
	return names
}

// presetPipeline fills in the preset name for source.
func presetPipeline(name, source, transport string, height int) (string, error) {
	i := slices.IndexFunc(Presets, func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return "", fmt.Errorf("preset %q: want one of %s", name, strings.Join(PresetNames(), ", "))
	}
	p := Presets[i]
	lower := strings.ToLower(strings.TrimSpace(source))
	switch p.Source {
	case "rtsp":
		if !strings.HasPrefix(lower, "rtsp://") && !strings.HasPrefix(lower, "rtsps://") {
			return "", fmt.Errorf("preset %s reads an RTSP stream: source must be an rtsp:// URL, not %q", name, source)
		}
	case "csi":
		if lower != "csi" {
			return "", fmt.Errorf("preset %s reads the board's camera: source must be csi, not %q", name, source)
		}
	}
	if transport == "" {
		transport = "tcp"
	}
	hcaps := ""
	if height > 0 {
		hcaps = fmt.Sprintf(",height=[1,%d]", height)
	}
	return strings.NewReplacer("{url}", gstQuote(strings.TrimSpace(source)), "{transport}", transport,
		"{scale}", scaleStep(height), "{height}", hcaps).Replace(p.Pipeline), nil
}

// configSource parses cfg's source, or fills in its preset.
func configSource(cfg Config) (Source, error) {
	if cfg.Preset == "" {
		return ParseSource(cfg.Source)
	}
	if cfg.Decode == DecodeKeyframes || cfg.Decoder != "" {
		return Source{}, fmt.Errorf("preset %s: decode and ffmpeg_decoder do not apply to a GStreamer preset", cfg.Preset)
	}
	pipe, err := presetPipeline(cfg.Preset, cfg.Source, cfg.Transport, scaleHeight(cfg.Views))
	if err != nil {
		return Source{}, err
	}
	return Source{Kind: Pipeline, Raw: pipe, Index: -1}, nil
}

// CheckConfig checks what can be checked of a camera's source and decoding
// choices without opening anything (edged check-config): the preset and
// its source, the options against the source's kind, and CheckSource.
func CheckConfig(cfg Config) error {
	if len(cfg.Views) == 0 {
		cfg.Views = []preprocess.Spec{cfg.Spec}
	}
	src, err := configSource(cfg)
	if err != nil {
		return err
	}
	if _, err := streamOpts(cfg, src); err != nil {
		return err
	}
	if src.Kind == Pipeline {
		return nil
	}
	return CheckSource(cfg.Source)
}
