package camera

import (
	"context"
	"fmt"
	"image"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/samplevideo"
)

// writeBands writes a PNG of vertical colour bands, each w pixels wide and h
// high, in BGR order, and returns its folder.
func writeBands(t *testing.T, dir, name string, w, h int, bands ...gocv.Scalar) {
	t.Helper()
	img := gocv.NewMatWithSize(h, w*len(bands), gocv.MatTypeCV8UC3)
	defer img.Close()
	for i, b := range bands {
		r := img.Region(rect(i*w, 0, w, h))
		r.SetTo(b)
		r.Close()
	}
	if !gocv.IMWrite(filepath.Join(dir, name), img) {
		t.Fatalf("cannot write %s", name)
	}
}

var (
	blue  = gocv.NewScalar(255, 0, 0, 0)
	green = gocv.NewScalar(0, 255, 0, 0)
	red   = gocv.NewScalar(0, 0, 255, 0)
)

// pixel returns the BGR triple at (x, y) of a packed frame w pixels wide.
func pixel(px []byte, w, x, y int) [3]byte {
	i := (y*w + x) * 3
	return [3]byte{px[i], px[i+1], px[i+2]}
}

func TestCropPixels(t *testing.T) {
	cases := []struct {
		name string
		spec preprocess.Spec
		// want[x] is the BGR colour of every row at output column x.
		want [][3]byte
	}{
		// Bands 20 wide: blue 0-19, green 20-39, red 40-59. The ROI x=10..29
		// is half blue, half green; INTER_AREA (20→4, factor 5) keeps the
		// edge between output columns 1 and 2.
		{"roi stretch", preprocess.Spec{ROI: preprocess.Rect{X: 10, Y: 0, W: 20, H: 20}, Width: 4, Height: 4},
			[][3]byte{{255, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 255, 0}}},
		// ROI on the red band only.
		{"roi on red", preprocess.Spec{ROI: preprocess.Rect{X: 40, Y: 5, W: 20, H: 10}, Width: 4, Height: 2},
			[][3]byte{{0, 0, 255}, {0, 0, 255}, {0, 0, 255}, {0, 0, 255}}},
		// Centre crop of the 60x20 frame to a square output: the green band.
		{"center-crop", preprocess.Spec{Mode: preprocess.CenterCrop, Width: 4, Height: 4},
			[][3]byte{{0, 255, 0}, {0, 255, 0}, {0, 255, 0}, {0, 255, 0}}},
		// An ROI reaching past the right edge is clipped to the red band.
		{"roi clipped", preprocess.Spec{ROI: preprocess.Rect{X: 40, Y: 0, W: 500, H: 20}, Width: 2, Height: 2},
			[][3]byte{{0, 0, 255}, {0, 0, 255}}},
	}
	dir := t.TempDir()
	writeBands(t, dir, "bands.png", 20, 20, blue, green, red)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Name: "roi", Source: dir, Spec: tc.spec}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, c, 1, 0)
			if len(got) != 1 {
				t.Fatalf("%d frames, want 1", len(got))
			}
			for y := 0; y < tc.spec.Height; y++ {
				for x, want := range tc.want {
					if p := pixel(got[0].Pixels, tc.spec.Width, x, y); p != want {
						t.Errorf("pixel (%d,%d) = %v, want %v", x, y, p, want)
					}
				}
			}
		})
	}
}

// TestFrameSizeChanges feeds a landscape and then a square image through one
// letterboxing camera: the plan follows the frame size.
func TestFrameSizeChanges(t *testing.T) {
	dir := t.TempDir()
	white := gocv.NewScalar(255, 255, 255, 0)
	writeBands(t, dir, "a.png", 40, 20, white) // 40x20: padded above and below
	writeBands(t, dir, "b.png", 20, 20, white) // 20x20: fills the output
	c, err := New(Config{Name: "sizes", Source: dir,
		Spec: preprocess.Spec{Mode: preprocess.Letterbox, Width: 10, Height: 10, PadValue: 7}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 2, 0)
	if len(got) != 2 {
		t.Fatalf("%d frames, want 2", len(got))
	}
	if p := pixel(got[0].Pixels, 10, 5, 0); p != [3]byte{7, 7, 7} {
		t.Errorf("landscape frame, top row = %v, want padding 7", p)
	}
	if p := pixel(got[1].Pixels, 10, 5, 0); p != [3]byte{255, 255, 255} {
		t.Errorf("square frame, top row = %v, want image 255 (plan not recomputed?)", p)
	}
}

// TestROIOutsideSomeFrames: a frame too small for the ROI is skipped and
// reported, a later frame that fits is delivered.
func TestROIOutsideSomeFrames(t *testing.T) {
	dir := t.TempDir()
	writeBands(t, dir, "1-small.png", 20, 20, blue)
	writeBands(t, dir, "2-large.png", 20, 20, blue, green, red)
	c, err := New(Config{Name: "roi", Source: dir,
		Spec: preprocess.Spec{ROI: preprocess.Rect{X: 40, Y: 0, W: 20, H: 20}, Width: 2, Height: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 5, 0)
	if len(got) != 1 || got[0].File != "2-large.png" {
		t.Fatalf("got %d frames (%+v), want only 2-large.png", len(got), got)
	}
	if p := pixel(got[0].Pixels, 2, 0, 0); p != [3]byte{0, 0, 255} {
		t.Errorf("pixel = %v, want red", p)
	}
	st := c.State()
	if st.DecodeErrors != 1 || !strings.Contains(st.LastError, "roi") {
		t.Errorf("state %+v, want 1 frame skipped and the roi error kept", st)
	}
}

func TestLiveFPSCapSkips(t *testing.T) {
	jpeg, err := os.ReadFile(photos(t, "orange.jpg")[0])
	if err != nil {
		t.Fatal(err)
	}
	s := mjpegtest.Start(t, jpeg) // about 50 frames a second
	c, err := New(Config{Name: "capped", Source: s.URL, Spec: spec(), FPS: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 3, 0)
	if len(got) != 3 {
		t.Fatalf("%d frames, want 3", len(got))
	}
	st := c.State()
	if st.Skipped == 0 {
		t.Errorf("a 50 fps stream capped at 5 fps skipped nothing: %+v", st)
	}
	if st.Dropped != 0 {
		t.Errorf("a consumer faster than the cap saw %d drops, want 0 (skips are counted apart)", st.Dropped)
	}
}

func TestFilePacedByFPSCapKeepsEveryFrame(t *testing.T) {
	video := makeVideo(t, 64, 48, 2, "orange.jpg", "apple.jpg")
	c, err := New(Config{Name: "paced", Source: video, Spec: spec(), FPS: 200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 100, time.Millisecond)
	if len(got) != 4 {
		t.Fatalf("%d frames, want 4", len(got))
	}
	for i, f := range got {
		if f.Number != uint64(i+1) {
			t.Errorf("frame %d has number %d, want %d", i, f.Number, i+1)
		}
	}
	if st := c.State(); st.Skipped != 0 || st.Dropped != 0 {
		t.Errorf("pulled source lost frames: %+v", st)
	}
}

// TestLoopWithoutUsableFramesBacksOff: a looping folder that yields no
// frame (every image corrupt, or every image too small for the ROI) backs
// off between passes instead of spinning, and says why.
func TestLoopWithoutUsableFramesBacksOff(t *testing.T) {
	corrupt := t.TempDir()
	os.WriteFile(filepath.Join(corrupt, "bad.jpg"), []byte("not an image"), 0o644)
	small := t.TempDir()
	writeBands(t, small, "small.png", 10, 10, blue)
	for _, tc := range []struct {
		name, dir, why string
		spec           preprocess.Spec
	}{
		{"corrupt", corrupt, "no usable frame", spec()},
		{"roi outside", small, "roi", preprocess.Spec{ROI: preprocess.Rect{X: 20, Y: 0, W: 5, H: 5}, Width: 2, Height: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) { loopBacksOff(t, tc.dir, tc.spec, tc.why) })
	}
}

func loopBacksOff(t *testing.T, dir string, sp preprocess.Spec, why string) {
	c, err := New(Config{Name: "bad", Source: dir, Spec: sp, Loop: true,
		Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second) // a guard against a hang, not a timing check
	// Between passes the state is "reconnecting"; it reads "streaming" for
	// the moment a pass runs, so take it when backing off.
	st := c.State()
	for st.Reconnects < 2 || st.State != "reconnecting" {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no backoff: state %+v, want reconnects after each empty pass", st)
		}
		time.Sleep(time.Millisecond)
		st = c.State()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	c.Close()
	if !strings.Contains(st.LastError, why) {
		t.Errorf("state %+v, want reconnecting with an error saying %q", st, why)
	}
}

// stallServer streams JPEG parts; the first connection goes silent after
// a few parts without closing, later ones stream until the test ends.
type stallServer struct {
	jpeg  []byte
	conns atomic.Int32
}

func (s *stallServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.conns.Add(1)
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
	for i := 0; ; i++ {
		if n == 1 && i == 5 {
			<-r.Context().Done() // stalled: connection open, no bytes
			return
		}
		fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(s.jpeg))
		if _, err := w.Write(s.jpeg); err != nil {
			return
		}
		fmt.Fprint(w, "\r\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stalledStream returns a camera on an HTTP MJPEG stream served by
// stallServer (its first connection stalls after 5 frames), with FFmpeg's
// capture options set to ffmpegOptions for the test.
func stalledStream(t *testing.T, ffmpegOptions string) *Camera {
	t.Helper()
	t.Setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", ffmpegOptions)
	jpeg, err := os.ReadFile(photos(t, "baboon.jpg")[0])
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &stallServer{jpeg: jpeg}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := New(Config{Name: "stall", Source: "http://" + l.Addr().String() + "/x.mjpg", Spec: spec(),
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStalledStreamReconnects: a stream that stops sending without closing
// times out (FFmpeg's rw_timeout, shortened here), is reopened, and
// streams again.
func TestStalledStreamReconnects(t *testing.T) {
	c := stalledStream(t, "rw_timeout;300000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	sawReconnecting := false
	for {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (state %+v)", err, c.State())
		}
		c.Release(f)
		st := c.State()
		sawReconnecting = sawReconnecting || st.Reconnects > 0
		if sawReconnecting && st.State == "streaming" {
			break
		}
	}
	cancel()
	<-done
	c.Close()
	if st := c.State(); st.Reconnects == 0 || !strings.Contains(st.LastError, "read failed") {
		t.Errorf("state %+v, want a read failure and a reconnect", st)
	}
}

func rect(x, y, w, h int) image.Rectangle { return image.Rect(x, y, x+w, y+h) }

// makeVideo writes an MJPEG AVI of the named opencv-doc photos, each held
// for perPhoto frames, and returns its path.
func makeVideo(t testing.TB, w, h, perPhoto int, names ...string) string {
	t.Helper()
	video := filepath.Join(t.TempDir(), "v.avi")
	err := samplevideo.Write(video, photos(t, names...), samplevideo.Options{Width: w, Height: h, FPS: 25, FramesPerPhoto: perPhoto})
	if err != nil {
		t.Fatal(err)
	}
	return video
}

// TestBusyShowsAHungRead: while a stalled stream's read hangs, Busy grows
// past a second (what the daemon's watchdog looks at); once FFmpeg's
// timeout ends the read and the stream is reopened, it is back near zero.
func TestBusyShowsAHungRead(t *testing.T) {
	c := stalledStream(t, "rw_timeout;3000000")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	go func() { // keep taking frames, as the pipeline does
		for {
			f, err := c.Next(ctx)
			if err != nil {
				return
			}
			c.Release(f)
		}
	}()
	var longest time.Duration
	for ctx.Err() == nil {
		longest = max(longest, c.Busy(time.Now()))
		if st := c.State(); st.Reconnects > 0 && st.State == "streaming" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if longest < time.Second {
		t.Fatalf("longest Busy during a 3 s stall: %v, want over 1 s", longest)
	}
	// Streaming again: reads return quickly (20 ms apart), so Busy stays
	// far below the stall.
	for range 10 {
		time.Sleep(20 * time.Millisecond)
		if b := c.Busy(time.Now()); b >= time.Second {
			t.Fatalf("Busy %v after the stream came back", b)
		}
	}
	cancel()
	<-done
}
