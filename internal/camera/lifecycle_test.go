package camera

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samplevideo"
)

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  Config
		want string // part of the error
	}{
		{"empty source", Config{Spec: spec()}, "source is empty"},
		{"negative index", Config{Source: "-3", Spec: spec()}, "negative"},
		{"missing file", Config{Source: filepath.Join(dir, "none.mp4"), Spec: spec()}, "none.mp4"},
		{"negative fps", Config{Source: dir, Spec: spec(), FPS: -1}, "fps -1"},
		{"unknown resize mode", Config{Source: dir, Spec: preprocess.Spec{Mode: "zoom", Width: 4, Height: 4}}, `"zoom"`},
		{"no output size", Config{Source: dir, Spec: preprocess.Spec{}}, "0x0"},
		{"negative roi", Config{Source: dir, Spec: preprocess.Spec{ROI: preprocess.Rect{X: -1, W: 4, H: 4}, Width: 4, Height: 4}}, "roi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg, nil)
			if err == nil {
				c.Close()
				t.Fatalf("New accepted %+v", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestNewBackoffDefaults(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		in   Backoff
		want Backoff
	}{
		{"defaults", Backoff{}, Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Healthy: 10 * time.Second}},
		{"kept", Backoff{Initial: time.Second, Max: time.Minute, Healthy: time.Hour}, Backoff{Initial: time.Second, Max: time.Minute, Healthy: time.Hour}},
		// A cap below the first delay is raised to it.
		{"max below initial", Backoff{Initial: 2 * time.Minute}, Backoff{Initial: 2 * time.Minute, Max: 2 * time.Minute, Healthy: 10 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Source: dir, Spec: spec(), Backoff: tc.in}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.cfg.Backoff != tc.want {
				t.Errorf("backoff %+v, want %+v", c.cfg.Backoff, tc.want)
			}
		})
	}
}

// TestBeforeRun: a new camera reports "starting", opens nothing, can be
// closed twice, and Next honours a cancelled context.
func TestBeforeRun(t *testing.T) {
	c, err := New(Config{Name: "idle", Source: t.TempDir(), Spec: spec()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := c.State()
	if st.State != "starting" || st.Kind != "folder" || st.Captured != 0 || st.LastError != "" {
		t.Errorf("state %+v, want starting, kind folder, nothing captured", st)
	}
	if c.Kind() != Folder {
		t.Errorf("kind %v, want folder", c.Kind())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f, err := c.Next(ctx); !errors.Is(err, context.Canceled) || f != nil {
		t.Errorf("Next on a cancelled context: %v, %v; want nil, context.Canceled", f, err)
	}
	c.Release(nil) // harmless
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestFolderLoopsInOrder: a looping folder starts over at its first file;
// starting over is not a reconnect, and frame numbers keep counting.
func TestFolderLoopsInOrder(t *testing.T) {
	dir := t.TempDir()
	for i, p := range photos(t, "orange.jpg", "baboon.jpg") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, []string{"b.jpg", "a.jpg"}[i]), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(Config{Name: "loop", Source: dir, Spec: spec(), Loop: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 5, 0)
	want := []string{"a.jpg", "b.jpg", "a.jpg", "b.jpg", "a.jpg"}
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i, f := range got {
		if f.File != want[i] || f.Number != uint64(i+1) {
			t.Errorf("frame %d: %s #%d, want %s #%d", i, f.File, f.Number, want[i], i+1)
		}
	}
	if st := c.State(); st.Reconnects != 0 || st.DecodeErrors != 0 {
		t.Errorf("state %+v, want no reconnects and no decode errors", st)
	}
}

// waitState polls the camera's state until ok holds; the deadline only
// guards against a hang.
func waitState(t *testing.T, c *Camera, what string, ok func(result.Status) bool) result.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := c.State()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera never became %s: state %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFileAppearsLater: a looping video file that cannot be opened keeps
// the camera reconnecting (the error names the file) until the file is
// readable, then frames flow from number 1.
func TestFileAppearsLater(t *testing.T) {
	t.Run("not looping: the camera ends, failed", testNotAVideoEnds)
	video := filepath.Join(t.TempDir(), "late.avi")
	if err := os.WriteFile(video, []byte("not a video yet"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Name: "late", Source: video, Spec: spec(), Loop: true,
		Backoff: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	st := waitState(t, c, "reconnecting after two attempts", func(s result.Status) bool {
		return s.State == "reconnecting" && s.Reconnects >= 2
	})
	if !strings.Contains(st.LastError, "late.avi") {
		t.Errorf("last error %q does not name the file", st.LastError)
	}
	// Replace the file atomically so that no attempt sees half a video.
	tmp := filepath.Join(filepath.Dir(video), "tmp.avi")
	err = samplevideo.Write(tmp, photos(t, "apple.jpg"), samplevideo.Options{Width: 64, Height: 48, FPS: 10, FramesPerPhoto: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, video); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (state %+v)", err, c.State())
		}
		if f.Number != uint64(i) {
			t.Errorf("frame number %d, want %d", f.Number, i)
		}
		c.Release(f)
	}
	if st := c.State(); st.State != "streaming" {
		t.Errorf("state %+v, want streaming", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	c.Close()
}

// TestMissingDeviceKeepsTrying: an absent V4L2 device never ends Run; the
// camera reports reconnecting with the device in the error, and Run returns
// nil when its context ends.
func TestMissingDeviceKeepsTrying(t *testing.T) {
	const dev = "/dev/video97"
	if _, err := os.Stat(dev); err == nil {
		t.Skipf("%s exists on this host", dev)
	}
	c, err := New(Config{Name: "gone", Source: dev, Spec: spec(),
		Backoff: Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	st := waitState(t, c, "reconnecting", func(s result.Status) bool {
		return s.State == "reconnecting" && s.Reconnects >= 3
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v, want nil after cancel", err)
	}
	c.Close()
	if !strings.Contains(st.LastError, dev) {
		t.Errorf("last error %q does not name %s", st.LastError, dev)
	}
	if st.Captured != 0 {
		t.Errorf("captured %d frames from a missing device", st.Captured)
	}
}

// TestParseDevicePaths: every path under /dev/ is a V4L2 device, present or
// not, including the stable names udev makes under /dev/v4l/.
func TestParseDevicePaths(t *testing.T) {
	for _, s := range []string{
		"/dev/video0",
		"/dev/video12",
		"/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920-video-index0",
		"/dev/v4l/by-path/platform-fe980000.usb-usb-0:1.2:1.0-video-index0",
		" /dev/video1 ",
	} {
		src, err := ParseSource(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if src.Kind != Device || src.Index != -1 {
			t.Errorf("%q: kind %v index %d, want device -1", s, src.Kind, src.Index)
		}
		if !src.Kind.Live() {
			t.Errorf("%q: a device must be live", s)
		}
	}
	for _, s := range []string{"/dev/", "/dev/v4l"} {
		if st, err := os.Stat(s); err != nil || !st.IsDir() {
			continue // /dev/v4l exists only where a camera was plugged in
		}
		if _, err := ParseSource(s); err == nil || !strings.Contains(err.Error(), "not a camera") {
			t.Errorf("%q: %v, want a not-a-camera error", s, err)
		}
	}
}

// testNotAVideoEnds: a non-looping video file that does not open ends
// the camera at once, in state failed, with an error saying it is not a
// video, rather than being retried for ever.
func testNotAVideoEnds(t *testing.T) {
	video := filepath.Join(t.TempDir(), "notes.mp4")
	if err := os.WriteFile(video, []byte("shopping list: milk, eggs"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Name: "notes", Source: video, Spec: spec(),
		Backoff: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Run: %v (context %v), want it to end by itself", err, ctx.Err())
	}
	if _, err := c.Next(ctx); !errors.Is(err, ErrEndOfInput) {
		t.Errorf("Next: %v, want ErrEndOfInput", err)
	}
	st := c.State()
	if st.State != result.Failed || !strings.Contains(st.LastError, "notes.mp4: not a video") || st.Reconnects != 0 {
		t.Errorf("status %+v, want failed, saying notes.mp4 is not a video, never reopened", st)
	}
}
