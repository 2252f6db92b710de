package mqtt

import (
	"log/slog"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/result"
)

// sinks holds the publish.Sink in front of each publisher the tests made,
// so that results reach a publisher the way the daemon sends them:
// encoded and numbered once, then written.
var sinks sync.Map // *Publisher -> *publish.Sink

// newTest is New for device with boot as the boot id of its sink.
func newTest(cfg config.Broker, device, boot string, log *slog.Logger) (*Publisher, error) {
	p, err := New(cfg, device, log)
	if err == nil {
		sinks.Store(p, publish.NewSink(publish.Identity{Device: device, Boot: boot, TopicPrefix: cfg.TopicPrefix}, p))
	}
	return p, err
}

// sinkOf is the sink in front of p.
func sinkOf(p *Publisher) *publish.Sink {
	s, _ := sinks.Load(p)
	return s.(*publish.Sink)
}

func mkResult(frame uint64, labels ...result.Label) *result.Result {
	return &result.Result{Frame: frame, Captured: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC),
		Model: result.ModelRef{Name: "m", SHA256: "0123456789ab"}, Labels: labels,
		Latency: result.Latency{Capture: time.Millisecond, Preprocess: 2 * time.Millisecond, Infer: 3 * time.Millisecond, Total: 6 * time.Millisecond}}
}
