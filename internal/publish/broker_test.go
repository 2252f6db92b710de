package publish

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/mqtttest"
)

// TestEmbeddedRoundTrip runs without mosquitto: the publisher and an
// independent paho subscriber meet on the embedded broker.
func TestEmbeddedRoundTrip(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	eb, err := StartEmbedded(addr, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	sub := pahoSub(t, addr, "edged/#")
	ctx := context.Background()
	p, err := New(brokerConfig(eb.URL()), "emb", "boot", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub, "online"); m.Topic() != "edged/emb/status" || string(m.Payload()) != "online" {
		t.Fatalf("first message %q on %q, want online on edged/emb/status", m.Payload(), m.Topic())
	}
	for i := 1; i <= 2; i++ {
		if err := p.Publish(ctx, "yard", result(uint64(i), infer.Label{Label: "fox", Index: 277, Score: 0.6})); err != nil {
			t.Fatal(err)
		}
		m := next(t, sub, "result")
		var pl Payload
		if err := json.Unmarshal(m.Payload(), &pl); err != nil {
			t.Fatal(err)
		}
		if m.Topic() != "edged/emb/yard/result" || m.Qos() != 1 || pl.Seq != uint64(i) || pl.Labels[0].Label != "fox" {
			t.Errorf("message %d on %q at QoS %d: %+v", i, m.Topic(), m.Qos(), pl)
		}
	}
	p.Close(ctx)
	if m := next(t, sub, "offline"); string(m.Payload()) != "offline" {
		t.Fatalf("status after Close %q, want offline", m.Payload())
	}
}

func TestEmbeddedAddressChecks(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"0.0.0.0:1883", "only loopback"},
		{"192.0.2.7:1883", "only loopback"},
		{"[::]:1883", "only loopback"},
		{"broker.example:1883", "only loopback"},
		{"127.0.0.1", "missing port"},
	}
	for _, c := range cases {
		if b, err := StartEmbedded(c.addr, quietLog()); err == nil || !strings.Contains(err.Error(), c.want) {
			if b != nil {
				b.Close()
			}
			t.Errorf("StartEmbedded(%q): %v, want an error containing %q", c.addr, err, c.want)
		}
	}
	// A port already taken is reported now, naming the address.
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	first, err := StartEmbedded(addr, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if b, err := StartEmbedded(addr, quietLog()); err == nil || !strings.Contains(err.Error(), addr) {
		if b != nil {
			b.Close()
		}
		t.Errorf("second broker on %s: %v, want an error naming the address", addr, err)
	}
}
