package camera

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/camera/vcap"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/rtsptest"
	"github.com/edged-io/edged/internal/testenv"
)

// rtspVideo is a 640×360 H.264 test video at 30 fps with a key frame
// every gop frames: the photos, each held for the given seconds.
func rtspVideo(t *testing.T, name string, gop int, seconds float64, photos ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var segs []rtsptest.Segment
	for _, p := range photos {
		segs = append(segs, rtsptest.Segment{Photo: testenv.Photo(t, p), Width: 640, Height: 360, Seconds: seconds})
	}
	rtsptest.Video(t, path, 30, gop, segs...)
	return path
}

// runCamera runs c until the test ends; frames are taken (and released)
// as they come, and the last one's number is kept.
type running struct {
	c      *Camera
	cancel context.CancelFunc
	done   chan struct{}
	frames chan Frame
}

func runCamera(t *testing.T, cfg Config) *running {
	t.Helper()
	t.Setenv(ffmpegEnv, FFmpegOptions)
	c, err := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan struct{}), frames: make(chan Frame, 1000)}
	go func() {
		defer close(r.done)
		c.Run(ctx)
	}()
	go func() {
		for {
			f, err := c.Next(ctx)
			if err != nil {
				return
			}
			select {
			case r.frames <- Frame{Number: f.Number, Captured: f.Captured, Pixels: append([]byte(nil), f.Pixels...)}:
			default:
			}
			c.Release(f)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		c.Close()
	})
	return r
}

// wait waits until ok holds for the camera's state.
func (r *running) wait(t *testing.T, what string, within time.Duration, ok func(result.Status) bool) result.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := r.c.State()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera never %s within %v: state %+v", what, within, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count takes the frames that arrive within d, after dropping those that
// came before.
func (r *running) count(d time.Duration) int {
	for len(r.frames) > 0 {
		<-r.frames
	}
	n := 0
	end := time.After(d)
	for {
		select {
		case <-r.frames:
			n++
		case <-end:
			return n
		}
	}
}

func TestRTSPTransports(t *testing.T) {
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 20, "orange.jpg"))
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Transport: transport, Decode: DecodeAll})
			r.wait(t, "streamed", 15*time.Second, func(s result.Status) bool { return s.Captured >= 30 })
			st := r.c.State()
			if st.State != result.Streaming || st.Decode != "all" || st.Decoder != "gstreamer" || st.Width != 640 || st.Height != 360 || st.Reconnects != 0 {
				t.Errorf("state %+v, want streaming 640×360 frames, all decoded through GStreamer, no reconnect", st)
			}
		})
	}
}

// TestRTSPKeyframes: decode: keyframes grabs only the key frames (one a
// second here) and measures their interval.
func TestRTSPKeyframes(t *testing.T) {
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 20, "orange.jpg"))
	r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), FPS: 5, Decode: DecodeKeyframes})
	st := r.wait(t, "measured its key frames", 15*time.Second, func(s result.Status) bool { return s.KeyframeInterval > 0 && s.Captured >= 3 })
	c0, t0 := st.Captured, time.Now()
	time.Sleep(4 * time.Second)
	st = r.c.State()
	rate := float64(st.Captured-c0) / time.Since(t0).Seconds()
	if st.Decode != "keyframes" || rate < 0.5 || rate > 1.6 || st.KeyframeInterval < 0.9 || st.KeyframeInterval > 1.1 {
		t.Errorf("state %+v, %.2f frames/s grabbed: want key frames only, about one a second", st, rate)
	}
	// Scaled inside the pipeline: 360 high is more than twice the input.
	if st.Height != 2*max(spec().Width, spec().Height) {
		t.Errorf("frames are %d×%d, want them scaled to %d high in the pipeline", st.Width, st.Height, 2*max(spec().Width, spec().Height))
	}
}

// TestRTSPAutoChooses: with a key frame every second, auto decodes key
// frames only under a 1 fps cap, and every frame under 5 fps.
func TestRTSPAutoChooses(t *testing.T) {
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 20, "orange.jpg"))
	for _, tc := range []struct {
		fps  float64
		want string
	}{{1, "keyframes"}, {5, "all"}} {
		t.Run(fmt.Sprint(tc.fps), func(t *testing.T) {
			r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), FPS: tc.fps})
			// Three key-frame intervals make the choice.
			r.wait(t, "chose", 15*time.Second, func(s result.Status) bool { return s.Decode == tc.want && s.KeyframeInterval > 0 })
			time.Sleep(4 * time.Second)
			if st := r.c.State(); st.Decode != tc.want || st.State != result.Streaming {
				t.Errorf("status %+v, want %q", st, tc.want)
			}
			if n := r.count(3 * time.Second); float64(n) < 2*tc.fps || float64(n) > 3*tc.fps+1 {
				t.Errorf("%d frames in 3 s at fps %v", n, tc.fps)
			}
		})
	}
}

// TestKeyframeSpan: the key-frame interval is the mean since the first
// key frame, so one key frame that arrives late (1.07 s after the one
// before, as seen on loopback) does not make a 1 s interval look too long
// for a 1 fps cap; stream positions count over arrival times where the
// stream gives them.
func TestKeyframeSpan(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, tc := range []struct {
		name       string
		pos, at    []float64 // pos in ms (0: none), arrival in s
		last, mean float64
	}{
		{"arrival, one late", []float64{0, 0, 0, 0}, []float64{0, 1.07, 2.01, 3.0}, 0.99, 1.0},
		{"arrival, late last", []float64{0, 0, 0}, []float64{0, 1.0, 2.14}, 1.14, 1.07},
		{"positions over arrival", []float64{5000, 6000, 7000}, []float64{0, 1.3, 1.9}, 1.0, 1.0},
		{"position going back", []float64{5000, 6000, 100}, []float64{0, 1.0, 2.0}, 1.0, 1.0},
		{"far apart", []float64{0, 0}, []float64{0, 10}, 10, 10},
	} {
		var s keyframeSpan
		if _, _, n := s.add(tc.pos[0], at(tc.at[0])); n != 0 {
			t.Fatalf("%s: first key frame gave n=%d, want 0", tc.name, n)
		}
		var last, mean float64
		var n int
		for i := 1; i < len(tc.pos); i++ {
			last, mean, n = s.add(tc.pos[i], at(tc.at[i]))
		}
		if n != len(tc.pos)-1 || math.Abs(last-tc.last) > 1e-9 || math.Abs(mean-tc.mean) > 1e-9 {
			t.Errorf("%s: last %.3f mean %.3f after %d intervals, want %.3f and %.3f after %d", tc.name, last, mean, n, tc.last, tc.mean, len(tc.pos)-1)
		}
	}
}

// decodePaths are a stream's three ways through OpenCV: every frame
// through GStreamer (no FPS cap) or FFmpeg (a cap), and key frames
// through GStreamer.
var decodePaths = []struct {
	name   string
	decode Decode
	fps    float64
}{
	{"all-gstreamer", DecodeAll, 0},
	{"all-ffmpeg", DecodeAll, 50},
	{"keyframes", DecodeKeyframes, 0},
}

// TestRTSPServerDies: the camera reconnects when the server is killed
// and comes back on the same port.
func TestRTSPServerDies(t *testing.T) {
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 30, "orange.jpg"))
	for _, tc := range decodePaths {
		t.Run(tc.name, func(t *testing.T) {
			r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decode: tc.decode, FPS: tc.fps,
				Backoff: Backoff{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond}})
			r.wait(t, "streamed", 15*time.Second, func(s result.Status) bool { return s.Captured >= 2 })
			srv.Kill()
			st := r.wait(t, "noticed the server died", 15*time.Second, func(s result.Status) bool { return s.State == result.Reconnecting })
			if st.LastError == "" {
				t.Errorf("state %+v: no reason", st)
			}
			srv.Restart()
			st = r.wait(t, "came back", 20*time.Second, func(s result.Status) bool { return s.State == result.Streaming && s.Reconnects > 0 })
			c0 := st.Captured
			r.wait(t, "streamed again", 10*time.Second, func(s result.Status) bool { return s.Captured > c0+1 })
		})
	}
}

// TestRTSPStall: a server that stops sending (frozen, its connection
// open) is a failed read within FFmpeg's (or rtspsrc's) 5 s timeout, and
// the camera reconnects once the server answers again.
func TestRTSPStall(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the stream timeout")
	}
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 40, "orange.jpg"))
	for _, tc := range decodePaths {
		t.Run(tc.name, func(t *testing.T) {
			r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decode: tc.decode, FPS: tc.fps,
				Backoff: Backoff{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond}})
			r.wait(t, "streamed", 15*time.Second, func(s result.Status) bool { return s.Captured >= 2 })
			srv.Freeze()
			defer srv.Thaw()
			st := r.wait(t, "noticed the stall", 15*time.Second, func(s result.Status) bool { return s.State == result.Reconnecting })
			srv.Thaw()
			if !strings.Contains(st.LastError, "read failed") {
				t.Errorf("state %+v, want a failed read", st)
			}
			r.wait(t, "came back", 20*time.Second, func(s result.Status) bool { return s.State == result.Streaming && s.Reconnects > 0 })
		})
	}
}

// TestRTSPResolutionChanges: a camera that switches from 640×360 to
// 320×240 mid-stream keeps streaming. Through GStreamer frames come at the
// new size (key frames here scaled to 64 high in the pipeline: 114×64,
// then 85×64). OpenCV 4.6's FFmpeg backend scales the new frames to the
// stream's first size until it is reopened (docs/streams.md).
func TestRTSPResolutionChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cam.ts")
	rtsptest.Video(t, path, 30, 15,
		rtsptest.Segment{Photo: testenv.Photo(t, "orange.jpg"), Width: 640, Height: 360, Seconds: 3},
		rtsptest.Segment{Photo: testenv.Photo(t, "baboon.jpg"), Width: 320, Height: 240, Seconds: 20})
	srv := rtsptest.Start(t, path)
	t.Run("keyframes", func(t *testing.T) {
		r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decode: DecodeKeyframes})
		r.wait(t, "streamed 16:9", 15*time.Second, func(s result.Status) bool { return s.Width == 114 && s.Height == 64 })
		st := r.wait(t, "streamed 4:3", 15*time.Second, func(s result.Status) bool { return s.Width == 85 && s.Height == 64 })
		if st.State != result.Streaming || st.Reconnects != 0 {
			t.Errorf("state %+v, want streaming without a reconnect", st)
		}
	})
	t.Run("all-gstreamer", func(t *testing.T) {
		r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decode: DecodeAll})
		r.wait(t, "streamed 640×360", 15*time.Second, func(s result.Status) bool { return s.Width == 640 && s.Height == 360 })
		st := r.wait(t, "streamed 320×240", 15*time.Second, func(s result.Status) bool { return s.Width == 320 && s.Height == 240 })
		if st.State != result.Streaming || st.Reconnects != 0 || st.DecodeErrors > 2 || st.Decoder != "gstreamer" {
			t.Errorf("state %+v, want streaming through GStreamer without a reconnect", st)
		}
	})
	t.Run("all-ffmpeg", func(t *testing.T) {
		r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decode: DecodeAll, FPS: 50})
		r.wait(t, "streamed", 15*time.Second, func(s result.Status) bool { return s.Width == 640 })
		st := r.wait(t, "went on past the change", 15*time.Second, func(s result.Status) bool { return s.Captured > 5*30 })
		if st.State != result.Streaming || st.Reconnects != 0 || st.DecodeErrors > 2 || st.Decoder != "ffmpeg" {
			t.Errorf("state %+v, want streaming through FFmpeg without a reconnect", st)
		}
	})
}

// TestPipelineSources: a gst: source and the software-rtsp preset read
// the test server's stream through GStreamer; the Jetson preset, whose
// elements this machine lacks, fails to start with a reason and the camera
// keeps trying.
func TestPipelineSources(t *testing.T) {
	video := rtspVideo(t, "cam.mp4", 30, 20, "orange.jpg")
	srv := rtsptest.Start(t, video)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"gst", Config{Source: "gst:filesrc location=" + video + " ! qtdemux ! h264parse ! avdec_h264 ! " + appsinkTail}},
		{"software-rtsp", Config{Source: srv.URL(), Preset: "software-rtsp", Transport: "udp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Spec = spec()
			r := runCamera(t, tc.cfg)
			st := r.wait(t, "streamed", 15*time.Second, func(s result.Status) bool { return s.Captured >= 10 })
			if st.Kind != "gstreamer" || st.State != result.Streaming {
				t.Errorf("state %+v", st)
			}
			if tc.cfg.Preset != "" && (st.Width != 114 || st.Height != 64) {
				t.Errorf("frames %d×%d, want them scaled in the pipeline to 114×64", st.Width, st.Height)
			}
		})
	}
	t.Run("jetson-rtsp", func(t *testing.T) {
		r := runCamera(t, Config{Source: srv.URL(), Preset: "jetson-rtsp", Spec: spec(), Backoff: Backoff{Initial: 50 * time.Millisecond}})
		st := r.wait(t, "failed to start", 15*time.Second, func(s result.Status) bool { return s.Reconnects >= 1 })
		if st.State != result.Reconnecting || !strings.Contains(st.LastError, "start GStreamer pipeline") || !strings.Contains(st.LastError, "nvv4l2decoder") {
			t.Errorf("state %+v, want the pipeline's failure named", st)
		}
	})
}

// TestFFmpegDecoder: ffmpeg_decoder picks FFmpeg's decoder by name; one
// that cannot decode the stream fails the open, naming it.
func TestFFmpegDecoder(t *testing.T) {
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 20, "orange.jpg"))
	r := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decoder: "h264"})
	st := r.wait(t, "streamed", 15*time.Second, func(s result.Status) bool { return s.Captured >= 10 })
	if st.Decode != "all" || st.Decoder != "ffmpeg" {
		t.Errorf("state %+v, want decode all through FFmpeg", st)
	}
	bad := runCamera(t, Config{Source: srv.URL(), Spec: spec(), Decoder: "hevc", Backoff: Backoff{Initial: 50 * time.Millisecond}})
	st = bad.wait(t, "failed to open", 15*time.Second, func(s result.Status) bool { return s.Reconnects >= 1 })
	if !strings.Contains(st.LastError, "FFmpeg decoder hevc") {
		t.Errorf("state %+v, want the decoder named", st)
	}
}

// TestRTSPWithoutGStreamerPlugins: where GStreamer has no plugins to read
// the stream, every frame is decoded through FFmpeg instead, in decode:
// all and in decode: auto (which tries key frames through GStreamer
// first). The cameras run in a child test process whose GStreamer finds
// no plugins; the server runs here, with them.
func TestRTSPWithoutGStreamerPlugins(t *testing.T) {
	if url := os.Getenv("EDGED_TEST_NO_GST_URL"); url != "" {
		for _, tc := range []struct {
			name string
			cfg  Config
		}{
			{"all", Config{Source: url, Spec: spec(), Decode: DecodeAll}},
			{"auto", Config{Source: url, Spec: spec(), FPS: 2}},
		} {
			r := runCamera(t, tc.cfg)
			st := r.wait(t, "streamed", 20*time.Second, func(s result.Status) bool { return s.Captured >= 5 })
			if st.Decode != "all" || st.Decoder != "ffmpeg" || st.State != result.Streaming {
				t.Errorf("%s: state %+v, want every frame decoded through FFmpeg", tc.name, st)
			}
		}
		return
	}
	srv := rtsptest.Start(t, rtspVideo(t, "cam.mp4", 30, 30, "orange.jpg"))
	empty := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRTSPWithoutGStreamerPlugins$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGED_TEST_NO_GST_URL="+srv.URL(), "GST_PLUGIN_SYSTEM_PATH_1_0="+empty,
		"GST_PLUGIN_PATH_1_0="+empty, "GST_REGISTRY_1_0="+filepath.Join(empty, "registry.bin"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "decoding every frame through FFmpeg") {
		t.Errorf("child test did not log the fall back to FFmpeg:\n%s", out)
	}
}

func TestStreamOptionsRejected(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Source: "rtsp://cam/x", Decode: "some"}, `decode "some"`},
		{Config{Source: "rtsp://cam/x", Transport: "sctp"}, `rtsp_transport "sctp"`},
		{Config{Source: "http://cam/x", Transport: "udp"}, "only for rtsp://"},
		{Config{Source: "0", Decode: DecodeKeyframes}, "keyframes is for network streams"},
		{Config{Source: "rtsp://cam/x", Decoder: "h264 ; rm"}, "not an FFmpeg decoder name"},
		{Config{Source: "rtsp://cam/x", Decoder: "h264", Decode: DecodeKeyframes}, "decoded through GStreamer"},
		{Config{Source: "rtsp://cam/x", Preset: "pi-csi"}, "source must be csi"},
		{Config{Source: "csi", Preset: "pi-rtsp"}, "must be an rtsp:// URL"},
		{Config{Source: "rtsp://cam/x", Preset: "nano"}, `preset "nano": want one of software-rtsp`},
		{Config{Source: "gst:videotestsrc ! fakesink"}, "must end in appsink"},
		{Config{Source: "gst: "}, "pipeline is empty"},
	} {
		tc.cfg.Spec = spec()
		_, err := New(tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one with %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMergeFFmpegOptions(t *testing.T) {
	got := mergeFFmpegOptions(FFmpegOptions, map[string]string{"rtsp_transport": "udp", "video_codec": "h264_v4l2m2m"})
	if want := "rtsp_transport;udp|rw_timeout;5000000|timeout;5000000|video_codec;h264_v4l2m2m"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := mergeFFmpegOptions("", map[string]string{"b": "2", "a": "1"}); got != "a;1|b;2" {
		t.Errorf("got %q", got)
	}
}

// TestFreshness: when the consumer (a stand-in for inference, 100 ms a
// frame) is slower than a 30 fps stream whose picture switches between two
// photos every 2 s, the first frame it gets of each new photo was captured
// less than one inference plus one frame interval after the switch. A
// plain loop that reads every frame and then works on it falls behind: it
// works through the frames buffered on the way (about a second here, the
// server dropping the rest).
func TestFreshness(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for 24 s")
	}
	const (
		fps     = 30
		segment = 2 * time.Second
		work    = 100 * time.Millisecond
		slack   = 40 * time.Millisecond // loopback RTSP and the scheduler
	)
	names := []string{"orange.jpg", "baboon.jpg", "orange.jpg", "baboon.jpg", "orange.jpg", "baboon.jpg"}
	var segs []rtsptest.Segment
	for _, n := range names {
		segs = append(segs, rtsptest.Segment{Photo: testenv.Photo(t, n), Width: 640, Height: 360, Seconds: segment.Seconds()})
	}
	path := filepath.Join(t.TempDir(), "switching.mp4")
	rtsptest.Video(t, path, fps, fps, segs...)
	srv := rtsptest.Start(t, path)

	// edged's camera.
	r := runCamera(t, Config{Source: srv.URL(), Spec: preprocess.Spec{Width: 64, Height: 36}, Decode: DecodeAll})
	edgedLags := lags(t, srv, 0, len(names), segment, func() (time.Time, gocv.Scalar, bool) {
		select {
		case f := <-r.frames:
			// (runCamera's reader hands frames over as they come; this one
			// takes them one inference apart.)
			for len(r.frames) > 0 {
				f = <-r.frames
			}
			time.Sleep(work)
			return f.Captured, meanBGR(f.Pixels), true
		case <-time.After(5 * time.Second):
			return time.Time{}, gocv.Scalar{}, false
		}
	})
	r.cancel()

	// The plain loop: read a frame, work on it, read the next.
	vc, err := vcap.Open(srv.URL(), gocv.VideoCaptureFFmpeg)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	small := gocv.NewMat()
	defer small.Close()
	loopLags := lags(t, srv, 1, len(names), segment, func() (time.Time, gocv.Scalar, bool) {
		if !vc.Read(&m) {
			return time.Time{}, gocv.Scalar{}, false
		}
		at := time.Now()
		gocv.Resize(m, &small, image.Pt(64, 36), 0, 0, gocv.InterpolationArea)
		time.Sleep(work)
		return at, small.Mean(), true
	})
	limit := work + time.Second/fps + slack
	t.Logf("lag after each switch: edged %v, plain loop %v (limit %v)", edgedLags, loopLags, limit)
	if len(edgedLags) < len(names)-2 {
		t.Fatalf("edged saw %d of %d switches", len(edgedLags), len(names)-1)
	}
	// The median holds the bound; one late switch of a frame interval more
	// is let through, for a test machine running other tests beside this.
	if med := slices.Sorted(slices.Values(edgedLags))[len(edgedLags)/2]; med > limit {
		t.Errorf("edged's median lag %v is over one inference plus one frame interval (%v)", med, limit)
	}
	for _, l := range edgedLags {
		if l > limit+time.Second/fps {
			t.Errorf("edged's lag %v is over one inference plus two frame intervals (%v)", l, limit+time.Second/fps)
		}
	}
	// The comparison, which shows the test can tell: the plain loop works
	// on a backlog and is far behind at every switch it sees.
	if len(loopLags) == 0 || slices.Min(loopLags) <= 2*limit {
		t.Errorf("the plain loop's lags %v are not behind edged's bound: the test does not tell them apart", loopLags)
	}
}

// lags reads frames with next from the stream the server started as its
// client number client, and returns, for each switch of photo (a jump of
// the frame's mean colour), how long after the switch the first frame of
// the new photo was captured.
func lags(t *testing.T, srv *rtsptest.Server, client, segments int, segment time.Duration, next func() (time.Time, gocv.Scalar, bool)) []time.Duration {
	t.Helper()
	var out []time.Duration
	var cur gocv.Scalar
	first := true
	for k := 0; k < segments-1; {
		at, mean, ok := next()
		if !ok {
			break
		}
		if first {
			cur, first = mean, false
			continue
		}
		if dist(cur, mean) < 10 {
			continue
		}
		cur = mean
		playing := srv.Playing()
		if len(playing) <= client {
			t.Fatalf("the server reported %d streams, want %d", len(playing), client+1)
		}
		// The switch this frame comes after: the last one before it.
		k = int(at.Sub(playing[client]) / segment)
		out = append(out, at.Sub(playing[client].Add(time.Duration(k)*segment)))
	}
	return out
}

// meanBGR is the mean colour of packed BGR pixels.
func meanBGR(px []byte) gocv.Scalar {
	var s [3]float64
	for i := 0; i+2 < len(px); i += 3 {
		s[0] += float64(px[i])
		s[1] += float64(px[i+1])
		s[2] += float64(px[i+2])
	}
	n := float64(len(px) / 3)
	return gocv.NewScalar(s[0]/n, s[1]/n, s[2]/n, 0)
}

// dist is the distance between two colours.
func dist(a, b gocv.Scalar) float64 {
	return math.Sqrt((a.Val1-b.Val1)*(a.Val1-b.Val1) + (a.Val2-b.Val2)*(a.Val2-b.Val2) + (a.Val3-b.Val3)*(a.Val3-b.Val3))
}
