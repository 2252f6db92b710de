package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samplevideo"
	"github.com/edged-io/edged/internal/testenv"
)

// recorder is a sink that keeps copies of what it is handed (the pipeline
// reuses results after Publish returns).
type recorder struct {
	mu  sync.Mutex
	got []result.Result
}

func (r *recorder) Publish(_ context.Context, _ string, res *result.Result) error {
	c := *res
	c.Labels = append([]result.Label(nil), res.Labels...)
	r.mu.Lock()
	r.got = append(r.got, c)
	r.mu.Unlock()
	return nil
}

// video writes a video of real photos (opencv-doc's) and returns its path.
func video(t testing.TB, framesPerPhoto int, names ...string) string {
	t.Helper()
	var photos []string
	for _, n := range names {
		photos = append(photos, testenv.Photo(t, n))
	}
	path := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(path, photos, samplevideo.Options{Width: 320, Height: 240, FPS: 25, FramesPerPhoto: framesPerPhoto}); err != nil {
		t.Fatal(err)
	}
	return path
}

func cameraSpec(name, source string, loop bool, m *Model) CameraSpec {
	return CameraSpec{
		Camera: camera.Config{Name: name, Source: source, Loop: loop, Spec: preprocess.Spec{Mode: "center-crop"},
			Backoff: camera.Backoff{Initial: 10e6, Max: 100e6}},
		Model: m,
	}
}

// TestEveryFrameInOrder: a file source goes through capture, the real
// engine and the default model; every frame arrives, in order, with the
// photo's class on top, although results are reused across frames.
func TestEveryFrameInOrder(t *testing.T) {
	m, err := LoadModel(infer.NewRegistry(engine(t)), ModelSpec{Name: "default", Path: defaultModel, Options: infer.Options{Threads: 1},
		Post: infer.PostConfig{TopK: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const frames = 150 // more than the pool of reusable results
	rec := &recorder{}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", video(t, frames, "orange.jpg"), false, m)}, Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != frames {
		t.Fatalf("%d results, want %d", len(rec.got), frames)
	}
	for i, r := range rec.got {
		if r.Frame != uint64(i+1) || len(r.Labels) != 3 || r.Labels[0].Label != "orange" {
			t.Fatalf("result %d: frame %d labels %+v, want frame %d with orange first", i, r.Frame, r.Labels, i+1)
		}
	}
}

// counter is a sink that counts results, signals when a target is hit,
// and records each result's overhead: the time from its capture to the
// sink, less the model's invoke and post-processing.
type counter struct {
	n        atomic.Int64
	target   atomic.Int64
	hit      chan struct{}
	overhead []time.Duration // preallocated; written by the publishing goroutine only
}

func (c *counter) Publish(_ context.Context, _ string, r *result.Result) error {
	if len(c.overhead) < cap(c.overhead) {
		c.overhead = append(c.overhead, time.Since(r.Captured)-r.Latency.Infer)
	}
	if c.n.Add(1) == c.target.Load() {
		c.hit <- struct{}{}
	}
	return nil
}

// BenchmarkSteadyState runs one camera on a looping video through the real
// engine: ns/op is the time per frame end to end (capture overlapping
// inference), allocs/op the heap allocations per frame of the whole
// process in the steady state (after a warm-up), which should be 0, and
// overhead-ms-p50 the median time a result spends outside the model
// between capture and the sink.
func BenchmarkSteadyState(b *testing.B) {
	m, err := LoadModel(infer.NewRegistry(engine(b)), ModelSpec{Name: "default", Path: defaultModel, Options: infer.Options{Threads: 1},
		Post: infer.PostConfig{TopK: 5}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	const warmup = 200
	sink := &counter{hit: make(chan struct{}, 1), overhead: make([]time.Duration, 0, warmup+b.N)}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", video(b, 30, "orange.jpg", "baboon.jpg", "fruits.jpg"), true, m)}, Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	sink.target.Store(warmup) // pools filled, the video looped once
	<-sink.hit
	b.ReportAllocs()
	b.ResetTimer()
	sink.target.Store(sink.n.Load() + int64(b.N))
	<-sink.hit
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	steady := sink.overhead[warmup:]
	slices.Sort(steady)
	b.ReportMetric(float64(steady[len(steady)/2])/1e6, "overhead-ms-p50")
}
