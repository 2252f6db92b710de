package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/publish/broker"
	"github.com/edged-io/edged/internal/result"
)

// TestEmbeddedRoundTrip runs without mosquitto: the publisher and an
// independent paho subscriber meet on the embedded broker.
func TestEmbeddedRoundTrip(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	eb, err := broker.Start(addr, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	sub := pahoSub(t, addr, "edged/#")
	ctx := context.Background()
	p, err := newTest(brokerConfig(eb.URL()), "emb", "boot", quietLog())
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
		if err := sinkOf(p).Publish(ctx, "yard", mkResult(uint64(i), result.Label{Label: "fox", Index: 277, Score: 0.6})); err != nil {
			t.Fatal(err)
		}
		m := next(t, sub, "result")
		for m.Topic() == "edged/emb/status" {
			// A second "online": under load the first connection attempt
			// can time out and the retry in the background wins.
			m = next(t, sub, "result")
		}
		var pl publish.Payload
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

// TestEmbeddedHostileClients: local clients that claim a huge packet or
// send garbage are disconnected, and the broker goes on serving: edged's
// own publisher still reaches a subscriber.
func TestEmbeddedHostileClients(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	eb, err := broker.Start(addr, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	// MQTT 3.1.1 CONNECT for client "h", clean session, keep-alive 60 s.
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 'h'}
	// PUBLISH claiming 200 MiB (the most a remaining length can say is
	// 256 MiB): mochi would allocate it up front without the limit.
	huge := []byte{0x30, 0x80, 0x80, 0x80, 0x64}
	garbage := bytes.Repeat([]byte{0xff, 0x00, 0xde, 0xad}, 1000)
	for _, c := range []struct {
		name  string
		sends [][]byte
	}{
		{"huge packet", [][]byte{connect, huge}},
		{"garbage", [][]byte{garbage}},
		{"garbage after connect", [][]byte{connect, garbage}},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range c.sends {
			conn.Write(b)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Whatever the broker answers (a CONNACK), it must then close.
		_, err = io.Copy(io.Discard, conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the broker kept the connection open", c.name)
		}
		conn.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 100<<20 {
		t.Errorf("heap holds %d MiB after a client claimed a 200 MiB packet", ms.HeapAlloc>>20)
	}
	sub := pahoSub(t, addr, "edged/#")
	p, err := newTest(brokerConfig(eb.URL()), "emb", "boot", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := p.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub, "online"); string(m.Payload()) != "online" {
		t.Fatalf("after the hostile clients: %q, want online", m.Payload())
	}
}
