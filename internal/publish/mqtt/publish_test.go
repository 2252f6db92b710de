package mqtt

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/publish/broker"
	"github.com/edged-io/edged/internal/result"
)

func brokerConfig(url string) config.Broker {
	c := config.Defaults().Broker
	c.URL = url
	c.ConnectTimeout = 5 * time.Second
	return c
}

func TestPublishToMosquitto(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	p, err := newTest(brokerConfig(b.URL()), "dev1", "boot1", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := sinkOf(p).Publish(ctx, "cam1", mkResult(uint64(10+i), result.Label{Label: "x", Index: 1, Score: 0.7})); err != nil {
			t.Fatal(err)
		}
	}
	msgs := sub.WaitFor(ctx, t, "edged/dev1/cam1/result", 5*time.Second, func(m []mqtttest.Message) bool { return len(m) == 5 })
	for i, m := range msgs {
		var pl publish.Payload
		if err := json.Unmarshal([]byte(m.Payload), &pl); err != nil {
			t.Fatal(err)
		}
		if pl.Seq != uint64(i+1) || pl.Frame != uint64(11+i) || pl.Camera != "cam1" || pl.Device != "dev1" {
			t.Errorf("message %d: %+v", i, pl)
		}
	}
	sub.WaitFor(ctx, t, "edged/dev1/status", 5*time.Second, func(m []mqtttest.Message) bool {
		return len(m) > 0 && m[len(m)-1].Payload == "online"
	})
	p.Close(ctx)
	p.Close(ctx)
	sub.WaitFor(ctx, t, "edged/dev1/status", 5*time.Second, func(m []mqtttest.Message) bool {
		return len(m) > 0 && m[len(m)-1].Payload == "offline"
	})
}

// TestLastWill routes the client through a TCP relay and cuts it, so the
// broker loses the client without a DISCONNECT and publishes the will.
func TestLastWill(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/+/status")
	relay, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := relay.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", b.Addr)
			if err != nil {
				c.Close()
				return
			}
			conns <- up
			go io.Copy(up, c)
			go io.Copy(c, up)
		}
	}()
	cfg := brokerConfig("tcp://" + relay.Addr().String())
	p, err := newTest(cfg, "devw", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	sub.WaitFor(ctx, t, "edged/devw/status", 5*time.Second, func(m []mqtttest.Message) bool { return len(m) > 0 && m[len(m)-1].Payload == "online" })
	relay.Close()
	(<-conns).Close() // the broker's side of the connection dies abruptly
	sub.WaitFor(ctx, t, "edged/devw/status", 5*time.Second, func(m []mqtttest.Message) bool { return len(m) > 0 && m[len(m)-1].Payload == "offline" })
}

func TestPasswordRefusedOverPlainTCP(t *testing.T) {
	cfg := brokerConfig("tcp://192.0.2.10:1883")
	cfg.Password = "secret"
	if _, err := newTest(cfg, "d", "b", slog.Default()); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("got %v, want a refusal to send the password in clear", err)
	}
	cfg.URL = "tcp://127.0.0.1:1883"
	if _, err := newTest(cfg, "d", "b", slog.Default()); err != nil {
		t.Fatalf("loopback with password: %v", err)
	}
}

func TestEmbeddedBroker(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	eb, err := broker.Start(addr, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	sub := mqtttest.Subscribe(t, addr, "edged/#")
	p, err := newTest(brokerConfig(eb.URL()), "e", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sinkOf(p).Publish(ctx, "c", mkResult(1, result.Label{Label: "y", Index: 2, Score: 1})); err != nil {
		t.Fatal(err)
	}
	sub.WaitFor(ctx, t, "edged/e/c/result", 5*time.Second, func(m []mqtttest.Message) bool { return len(m) == 1 })
	p.Close(ctx)
	if _, err := broker.Start("0.0.0.0:1883", slog.Default()); err == nil {
		t.Error("a non-loopback embedded broker was allowed")
	}
}
