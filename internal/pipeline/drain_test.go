package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/result"
)

// stuckSink waits, as a publisher does for a broker it never reached,
// until its context ends.
type stuckSink struct{ called chan struct{} }

func (s *stuckSink) Publish(ctx context.Context, _ string, _ *result.Result) error {
	select {
	case s.called <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestDrainEndsWhenUndeliverable: at shutdown, results still in memory
// are not held for the drain timeout when the sink says it cannot deliver
// (the broker is away): Run returns at once, long before the timeout.
func TestDrainEndsWhenUndeliverable(t *testing.T) {
	m, err := LoadModel(infer.NewRegistry(engine(t)), ModelSpec{Name: "default", Path: defaultModel, Options: infer.Options{Threads: 1},
		Post: infer.PostConfig{TopK: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sink := &stuckSink{called: make(chan struct{}, 1)}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", video(t, 20, "orange.jpg"), true, m)}, Sink: sink,
		DrainTimeout: 10 * time.Minute, Deliverable: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-sink.called
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run still draining a minute after shutdown although nothing can be delivered")
	}
}
