package mqtt

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish/broker"
	"github.com/edged-io/edged/internal/result"
)

// TestBrokerComesUpLater: edged starts before its broker (a common boot
// order). Results published meanwhile must reach the broker once it is up,
// and Publish must not hang.
func TestBrokerComesUpLater(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	cfg := brokerConfig("tcp://" + addr)
	cfg.ConnectTimeout = 300 * time.Millisecond
	p, err := newTest(cfg, "late", "b", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := p.Connect(context.Background()); err == nil {
		t.Fatal("connected to a broker that is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- sinkOf(p).Publish(ctx, "c", mkResult(1, result.Label{Label: "x", Index: 1, Score: 1})) }()
	time.Sleep(500 * time.Millisecond)
	eb, err := broker.Start(addr, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	if err := <-errc; err != nil {
		t.Fatalf("publish while the broker came up: %v", err)
	}
}
