package camera

import (
	"bytes"
	"context"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samplevideo"
	"github.com/edged-io/edged/internal/testenv"
)

// Snapshots are taken only while someone asks for them: with nobody
// watching a frame costs nothing more; once asked, the latest frame comes
// back as a JPEG scaled to SnapshotWidth, with the views drawn over it
// when an overlay is asked for.
func TestSnapshotsOnlyWhenWatched(t *testing.T) {
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, []string{testenv.Photo(t, "orange.jpg")},
		samplevideo.Options{Width: 1280, Height: 720, FPS: 25, FramesPerPhoto: 50}); err != nil {
		t.Fatal(err)
	}
	box := preprocess.Box{X: preprocess.Coord{V: 0.25, Frac: true}, Y: preprocess.Coord{V: 0.25, Frac: true}, W: preprocess.Coord{V: 0.5, Frac: true}, H: preprocess.Coord{V: 0.5, Frac: true}}
	cfg := Config{Name: "c", Source: video, FPS: 20, Loop: true,
		Views:   []preprocess.Spec{{Width: 64, Height: 64}, {Box: box, Width: 32, Height: 32}},
		Overlay: func(view int) string { return []string{"whole", "door: open"}[view] }}
	r := runCamera(t, cfg)
	r.wait(t, "streaming", 10*time.Second, func(st result.Status) bool { return st.Captured > 10 })
	if n := r.c.SnapshotsTaken(); n != 0 || r.c.Watched() {
		t.Fatalf("%d snapshots taken with nobody asking", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	since := time.Now()
	s, err := r.c.Snapshot(ctx, since, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Captured.Before(since) || s.Overlay != nil || s.JPEG == nil {
		t.Errorf("snapshot captured %v (asked from %v), overlay %d bytes", s.Captured, since, len(s.Overlay))
	}
	img, err := jpeg.Decode(bytes.NewReader(s.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != SnapshotWidth || b.Dy() != 540 || s.Width != SnapshotWidth {
		t.Errorf("snapshot %v, want %dx540", b, SnapshotWidth)
	}
	o, err := r.c.Snapshot(ctx, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if o.Overlay == nil || bytes.Equal(o.Overlay, o.JPEG) || o.Frame <= s.Frame {
		t.Fatalf("overlay snapshot: frame %d after %d, %d overlay bytes", o.Frame, s.Frame, len(o.Overlay))
	}
	// The overlay's rectangle is drawn green at the region's edge.
	oi, err := jpeg.Decode(bytes.NewReader(o.Overlay))
	if err != nil {
		t.Fatal(err)
	}
	cr, cg, cb, _ := oi.At(SnapshotWidth/4+60, 540/4).RGBA()
	if cg>>8 < 150 || cr>>8 > 100 || cb>>8 > 100 {
		t.Errorf("no green region edge at the box's top: rgb %d %d %d", cr>>8, cg>>8, cb>>8)
	}
	if !r.c.Watched() {
		t.Error("not watched right after a request")
	}
}
