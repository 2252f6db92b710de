//go:build matprofile

package camera

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/preprocess"
)

// TestNoMatLeaks runs every source kind through many frames, loops,
// letterboxing, a corrupt image, a stream reconnect, broken stream frames
// and a change of frame size, and checks with
// gocv's MatProfile (go test -tags matprofile) that every Mat the camera
// made was closed.
func TestNoMatLeaks(t *testing.T) {
	jpeg, err := os.ReadFile(photos(t, "orange.jpg")[0])
	if err != nil {
		t.Fatal(err)
	}
	video := makeVideo(t, 64, 48, 5, "orange.jpg", "baboon.jpg")
	dir := t.TempDir()
	writeBands(t, dir, "a.png", 20, 10, blue, red)
	writeBands(t, dir, "b.png", 10, 10, green)
	os.WriteFile(filepath.Join(dir, "c.jpg"), []byte("corrupt"), 0o644)
	stream := mjpegtest.Start(t, jpeg)

	before := gocv.MatProfile.Count()
	letterbox := preprocess.Spec{Mode: preprocess.Letterbox, Width: 16, Height: 16}
	for _, cfg := range []Config{
		{Name: "file", Source: video, Loop: true, Spec: letterbox},
		{Name: "folder", Source: dir, Loop: true, Spec: letterbox},
		{Name: "roi", Source: dir, Loop: true, Spec: preprocess.Spec{ROI: preprocess.Rect{X: 12, Y: 0, W: 8, H: 10}, Width: 4, Height: 4}},
	} {
		c, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		collect(t, c, 60, 0)
	}

	c, err := New(Config{Name: "stream", Source: stream.URL, Spec: letterbox,
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	take := func(n int) {
		for i := 0; i < n; i++ {
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("Next: %v (state %+v)", err, c.State())
			}
			c.Release(f)
		}
	}
	take(10)
	stream.SetDown(true)
	for c.State().Reconnects == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	stream.SetDown(false)
	take(10)
	// Broken parts between good ones, and a frame of another size.
	other, err := os.ReadFile(photos(t, "baboon.jpg")[0])
	if err != nil {
		t.Fatal(err)
	}
	stream.SetParts(jpeg, []byte("\xff\xd8\xff broken"), other)
	take(10)
	cancel()
	<-done
	c.Close()
	c.Close() // safe twice
	if c.State().Reconnects == 0 {
		t.Fatalf("the stream never reconnected: %+v", c.State())
	}

	if after := gocv.MatProfile.Count(); after != before {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("%d Mats live after every camera closed, want %d:\n%s", after, before, b.String())
	}
}
