package pipeline

import (
	"context"
	"fmt"
	"image/color"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/infertest"
	"github.com/edged-io/edged/internal/result"
)

// byCamera is a sink keeping each camera's top labels in order.
type byCamera struct {
	mu  sync.Mutex
	got map[string][]string
}

func (b *byCamera) Publish(_ context.Context, camera string, r *result.Result) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got[camera] = append(b.got[camera], r.Labels[0].Label)
	return nil
}

// runFourCameras runs four cameras, each on its own folder of one colour,
// on one model with the given pool, through a scripted engine whose
// invokes take 15 ms; it returns what each camera published, the most
// invokes that ran at once and the engine's counters.
func runFourCameras(t *testing.T, pool int) (map[string][]string, []string, int64, infertest.Stats) {
	t.Helper()
	var inflight, peak atomic.Int64
	e := &infertest.Engine{Script: func(in infertest.Invocation) ([]float32, time.Duration, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		scores, _, err := dominant(in)
		time.Sleep(15 * time.Millisecond) // inside the count: the invoke is busy for it
		return scores, 0, err
	}}
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Post: infer.PostConfig{TopK: 1}, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	colours := []color.RGBA{{R: 250}, {G: 250}, {B: 250}, {R: 250}}
	want := []string{m.Labels[0], m.Labels[1], m.Labels[2], m.Labels[0]}
	var specs []CameraSpec
	for i, c := range colours {
		specs = append(specs, cameraSpec(fmt.Sprintf("c%d", i), colourFolder(t, c, c, c, c, c, c, c, c), false, m))
	}
	rec := &byCamera{got: map[string][]string{}}
	p, err := New(Options{Cameras: specs, Sink: rec, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if pool > 0 && m.PoolOpen() > pool {
		t.Errorf("%d sessions open in a pool of %d", m.PoolOpen(), pool)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return rec.got, want, peak.Load(), e.Stats()
}

// TestPoolSharedByCameras: four cameras on a pool of two sessions never
// run more than two invokes at once, open no more than two sessions, and
// each camera still gets every frame with its own photo's class (sessions
// change hands between cameras without one camera's crop reaching
// another's result).
func TestPoolSharedByCameras(t *testing.T) {
	got, want, peak, st := runFourCameras(t, 2)
	for i, w := range want {
		cam := fmt.Sprintf("c%d", i)
		if len(got[cam]) != 8 {
			t.Errorf("camera %s: %d results, want 8", cam, len(got[cam]))
		}
		for j, l := range got[cam] {
			if l != w {
				t.Errorf("camera %s frame %d: %q, want %q", cam, j+1, l, w)
			}
		}
	}
	if peak > 2 {
		t.Errorf("%d invokes at once with a pool of 2", peak)
	}
	if st.Sessions != 2 {
		t.Errorf("%d sessions opened; want the pool's 2 (four cameras waiting on 15 ms invokes keep both busy)", st.Sessions)
	}
	if st.Open != 0 {
		t.Errorf("%d models still open after Close", st.Open)
	}
}

// TestPoolOff: without a pool each camera opens its own session, as
// before pools, and their invokes overlap freely.
func TestPoolOff(t *testing.T) {
	got, want, peak, st := runFourCameras(t, 0)
	for i, w := range want {
		cam := fmt.Sprintf("c%d", i)
		if len(got[cam]) != 8 || got[cam][0] != w {
			t.Errorf("camera %s: %v, want 8 × %q", cam, got[cam], w)
		}
	}
	if st.Sessions != 4 {
		t.Errorf("%d sessions opened, want one per camera (4)", st.Sessions)
	}
	if peak < 2 {
		t.Errorf("at most %d invoke at once: the cameras' own sessions should overlap", peak)
	}
}
