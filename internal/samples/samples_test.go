package samples

import (
	"context"
	"encoding/json"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
)

func sample(i int, l Limits) Sample {
	px := make([]byte, 32*24*3)
	for j := range px {
		px[j] = byte(i * 40)
	}
	return Sample{Camera: "cam", Region: "door", Reason: LowScore, W: 32, H: 24, Pixels: px, Limits: l,
		Result: result.Result{Frame: uint64(i), Captured: time.Unix(1000+int64(i), 0),
			Labels: []result.Label{{Label: "cat", Index: 3, Score: 0.4}}}}
}

// TestKeeper: each sample is a JPEG of the crop's size with a sidecar; a
// folder keeps at most max_count, the oldest going first.
func TestKeeper(t *testing.T) {
	k := New(t.TempDir(), slog.New(slog.DiscardHandler))
	for i := range 5 {
		k.write(sample(i, Limits{MaxCount: 3, MaxBytes: 1 << 20}))
	}
	dir := k.Folder("cam", "door")
	names, err := List(dir)
	if err != nil || len(names) != 3 {
		t.Fatalf("%v %v: want the 3 newest", names, err)
	}
	var side Sidecar
	data, _ := os.ReadFile(filepath.Join(dir, names[0]+".json"))
	if err := json.Unmarshal(data, &side); err != nil || side.Frame != 2 || side.Reason != LowScore || side.Labels[0].Label != "cat" || side.Region != "door" {
		t.Errorf("oldest kept sidecar %+v %v: want frame 2's", side, err)
	}
	f, _ := os.Open(filepath.Join(dir, names[2]+".jpg"))
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 24 {
		t.Errorf("JPEG %v %v: want 32x24", img, err)
	}
	if kept, dropped := k.Stats(); kept != 5 || dropped != 0 {
		t.Errorf("kept %d dropped %d", kept, dropped)
	}
}

// TestKeeperBytesAndAge: the bytes bound and the age bound prune too.
func TestKeeperBytesAndAge(t *testing.T) {
	k := New(t.TempDir(), nil)
	k.write(sample(0, Limits{MaxCount: 100}))
	one, _ := list(k.Folder("cam", "door"))
	for i := 1; i < 6; i++ {
		k.write(sample(i, Limits{MaxCount: 100, MaxBytes: 2*one[0].bytes + 10}))
	}
	if es, _ := list(k.Folder("cam", "door")); len(es) != 2 {
		t.Errorf("%d samples, want 2 under the bytes bound", len(es))
	}
	old := time.Now().Add(-2 * time.Hour)
	es, _ := list(k.Folder("cam", "door"))
	os.Chtimes(filepath.Join(k.Folder("cam", "door"), es[0].name+".jpg"), old, old)
	k.write(sample(9, Limits{MaxCount: 100, MaxAge: time.Hour}))
	if es, _ := list(k.Folder("cam", "door")); len(es) != 2 || es[0].name == one[0].name {
		t.Errorf("%d samples after the age bound: want the old one gone", len(es))
	}
}

// TestOfferNeverBlocks: with the writer stopped, offers beyond the queue
// are dropped and counted; Run writes what was queued.
func TestOfferNeverBlocks(t *testing.T) {
	k := New(t.TempDir(), nil)
	took := 0
	for i := range queued + 5 {
		if k.Offer(sample(i, Limits{MaxCount: 100})) {
			took++
		}
	}
	if _, dropped := k.Stats(); took != queued || dropped != 5 {
		t.Errorf("took %d, dropped %d: want %d and 5", took, dropped, queued)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k.Run(ctx)
	if names, _ := List(k.Folder("cam", "door")); len(names) != queued {
		t.Errorf("%d written after Run, want %d", len(names), queued)
	}
}
