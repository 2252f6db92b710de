package camera

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/samplevideo"
	"github.com/edged-io/edged/internal/testenv"
)

const opencvData = testenv.OpenCVData

// photos returns real photos from Debian's opencv-doc.
func photos(t testing.TB, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		p := filepath.Join(opencvData, n)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("real photos missing (apt-get install opencv-doc): %v", err)
		}
		out = append(out, p)
	}
	return out
}

func spec() preprocess.Spec { return preprocess.Spec{Width: 32, Height: 24} }

// collect runs the camera and takes frames until ErrEndOfInput or n frames.
func collect(t *testing.T, c *Camera, n int, slow time.Duration) []Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var got []Frame
	for len(got) < n {
		f, err := c.Next(ctx)
		if errors.Is(err, ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, Frame{Number: f.Number, File: f.File, Pixels: append([]byte(nil), f.Pixels...)})
		time.Sleep(slow)
		c.Release(f)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	c.Close()
	return got
}

func TestVideoFileAllFramesInOrder(t *testing.T) {
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, photos(t, "orange.jpg", "baboon.jpg", "apple.jpg"), samplevideo.Options{Width: 64, Height: 48, FPS: 10, FramesPerPhoto: 4}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Name: "f", Source: video, Spec: spec()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A slow consumer: a pulled file source must still deliver every frame.
	got := collect(t, c, 100, 5*time.Millisecond)
	if len(got) != 12 {
		t.Fatalf("%d frames, want 12", len(got))
	}
	for i, f := range got {
		if f.Number != uint64(i+1) {
			t.Fatalf("frame %d has number %d", i, f.Number)
		}
	}
	if s := c.State(); s.State != "ended" || s.Dropped != 0 || s.Captured != 12 {
		t.Errorf("state %+v, want ended with 12 captured and none dropped", s)
	}
}

func TestVideoFileLoops(t *testing.T) {
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, photos(t, "orange.jpg"), samplevideo.Options{Width: 64, Height: 48, FPS: 10, FramesPerPhoto: 3}); err != nil {
		t.Fatal(err)
	}
	c, _ := New(Config{Name: "f", Source: video, Spec: spec(), Loop: true}, nil)
	got := collect(t, c, 8, 0)
	if len(got) != 8 || got[7].Number != 8 {
		t.Fatalf("got %d frames, want 8 across loops", len(got))
	}
}

func TestFolderSortedSkipsCorrupt(t *testing.T) {
	dir := t.TempDir()
	for i, p := range photos(t, "orange.jpg", "baboon.jpg") {
		data, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.jpg", 2*i+1)), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "2.jpg"), []byte("\xff\xd8\xff\xe0 this is not a jpeg"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	c, _ := New(Config{Name: "d", Source: dir, Spec: spec()}, nil)
	got := collect(t, c, 10, 0)
	if len(got) != 2 || got[0].File != "1.jpg" || got[1].File != "3.jpg" {
		t.Fatalf("got %+v, want 1.jpg then 3.jpg", got)
	}
	if s := c.State(); s.DecodeErrors != 1 {
		t.Errorf("decode errors %d, want 1", s.DecodeErrors)
	}
}

// TestLetterboxPixels checks the letterboxed output of a known image: a
// 40x20 white frame into 10x10 leaves 2.5→2 padded rows above, 5 white rows, and padding below.
func TestLetterboxPixels(t *testing.T) {
	dir := t.TempDir()
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 255, 255, 0), 20, 40, gocv.MatTypeCV8UC3)
	gocv.IMWrite(filepath.Join(dir, "w.png"), img)
	img.Close()
	c, _ := New(Config{Name: "d", Source: dir, Spec: preprocess.Spec{Width: 10, Height: 10, Mode: preprocess.Letterbox, PadValue: 7}}, nil)
	got := collect(t, c, 1, 0)
	if len(got) != 1 {
		t.Fatal("no frame")
	}
	px := got[0].Pixels
	for y := 0; y < 10; y++ {
		want := byte(7)
		if y >= 2 && y < 7 {
			want = 255
		}
		if v := px[(y*10+5)*3]; v != want {
			t.Errorf("row %d: %d, want %d", y, v, want)
		}
	}
}

func TestMJPEGStreamReconnects(t *testing.T) {
	jpeg, err := os.ReadFile(photos(t, "orange.jpg")[0])
	if err != nil {
		t.Fatal(err)
	}
	s := mjpegtest.Start(t, jpeg)
	c, err := New(Config{Name: "s", Source: s.URL, Spec: spec(),
		Backoff: Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	take := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("Next: %v (state %+v)", err, c.State())
			}
			c.Release(f)
		}
	}
	take(5)
	if st := c.State().State; st != "streaming" {
		t.Fatalf("state %q, want streaming", st)
	}
	s.SetDown(true) // the stream closes and refuses for a while
	deadline := time.Now().Add(15 * time.Second)
	for c.State().State != "reconnecting" && time.Now().Before(deadline) {
		select {
		case f := <-c.ready:
			c.Release(f)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if st := c.State(); st.State != "reconnecting" {
		t.Fatalf("after the stream closed, state %+v, want reconnecting", st)
	}
	s.SetDown(false)
	take(5)
	st := c.State()
	if st.State != "streaming" || st.Reconnects == 0 {
		t.Fatalf("state %+v, want streaming after at least one reconnect", st)
	}
	cancel()
	<-done
	c.Close()
}

func TestLiveSlowConsumerDrops(t *testing.T) {
	jpeg, _ := os.ReadFile(photos(t, "orange.jpg")[0])
	s := mjpegtest.Start(t, jpeg)
	c, _ := New(Config{Name: "s", Source: s.URL, Spec: spec()}, nil)
	got := collect(t, c, 4, 200*time.Millisecond)
	if len(got) != 4 {
		t.Fatalf("%d frames", len(got))
	}
	if st := c.State(); st.Dropped == 0 {
		t.Errorf("a consumer 10x slower than the stream saw no dropped frames: %+v", st)
	}
	// Frame numbers skip what was dropped.
	if got[3].Number-got[0].Number < 4 {
		t.Errorf("frame numbers %d..%d do not show the drops", got[0].Number, got[3].Number)
	}
}

func TestParseSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.mp4")
	os.WriteFile(file, nil, 0o644)
	cases := map[string]Kind{"0": Device, "/dev/video2": Device, "rtsp://cam/x": Stream, "HTTP://cam/x.mjpg": Stream, dir: Folder, file: File}
	for s, want := range cases {
		got, err := ParseSource(s)
		if err != nil || got.Kind != want {
			t.Errorf("%q: %v %v, want %v", s, got.Kind, err, want)
		}
	}
	for _, s := range []string{"", "-1", filepath.Join(dir, "missing.mp4")} {
		if _, err := ParseSource(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
