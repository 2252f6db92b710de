package camera

import (
	"context"
	"testing"

	"github.com/edged-io/edged/internal/preprocess"
)

// startFile runs a looping camera on a 640x480 video of real photos that
// resizes to 224x224, and takes a few frames so that every buffer and Mat
// has its final size.
func startFile(tb testing.TB) (*Camera, context.CancelFunc, <-chan error) {
	tb.Helper()
	video := makeVideo(tb, 640, 480, 60, "baboon.jpg", "fruits.jpg")
	c, err := New(Config{Name: "bench", Source: video, Loop: true,
		Spec: preprocess.Spec{Mode: preprocess.Letterbox, Width: 224, Height: 224}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for i := 0; i < 5; i++ {
		f, err := c.Next(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		c.Release(f)
	}
	return c, cancel, done
}

func stop(tb testing.TB, c *Camera, cancel context.CancelFunc, done <-chan error) {
	tb.Helper()
	cancel()
	if err := <-done; err != nil {
		tb.Errorf("Run: %v", err)
	}
	c.Close()
}

// TestCaptureNoAllocsPerFrame: in the steady state, reading, resizing and
// handing over a frame allocates nothing on the Go heap (AllocsPerRun counts
// the capture goroutine too). 80 frames stay inside one pass of the
// 120-frame video, so no reopen is counted.
func TestCaptureNoAllocsPerFrame(t *testing.T) {
	c, cancel, done := startFile(t)
	defer stop(t, c, cancel, done)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(80, func() {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Release(f)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// BenchmarkCaptureResize measures decode (MJPEG 640x480), letterbox to
// 224x224 and hand-over, per frame.
func BenchmarkCaptureResize(b *testing.B) {
	c, cancel, done := startFile(b)
	defer stop(b, c, cancel, done)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := c.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c.Release(f)
	}
}
