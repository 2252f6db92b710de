package publish

import (
	"bytes"
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
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/mqtttest"
)

func result(frame uint64, labels ...infer.Label) *Result {
	return &Result{Frame: frame, Captured: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC),
		Model: ModelRef{Name: "m", SHA256: "0123456789ab"}, Labels: labels,
		Latency: Latency{Capture: time.Millisecond, Preprocess: 2 * time.Millisecond, Infer: 3 * time.Millisecond, Total: 6 * time.Millisecond}}
}

func TestEncodeIsValidJSON(t *testing.T) {
	e := Encoder{Device: "dev", Boot: "b1"}
	r := result(7, infer.Label{Label: `quote " and \ tab	é`, Index: 3, Score: 0.5})
	r.File = "a.jpg"
	var p Payload
	if err := json.Unmarshal(e.Encode("cam", 2, r), &p); err != nil {
		t.Fatal(err)
	}
	if p.V != 1 || p.Device != "dev" || p.Camera != "cam" || p.Seq != 2 || p.Frame != 7 || p.Boot != "b1" || p.File != "a.jpg" {
		t.Errorf("payload %+v", p)
	}
	if !p.TS.Equal(r.Captured) || p.Labels[0].Label != r.Labels[0].Label || p.Latency.Total != 6 {
		t.Errorf("payload %+v", p)
	}
	if !strings.Contains(string(e.Encode("cam", 2, r)), `"ts":"2026-11-28T10:00:00.123456789Z"`) {
		t.Errorf("ts not RFC 3339 with nanoseconds: %s", e.Encode("cam", 2, r))
	}
}

func TestFilterChangeAndHeartbeat(t *testing.T) {
	f, err := NewFilter(FilterConfig{Mode: "change", Heartbeat: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	steps := []struct {
		top  int
		at   time.Duration
		want bool
	}{
		{1, 0, true}, {1, time.Second, false}, {2, 2 * time.Second, true}, {2, 5 * time.Second, false},
		{2, 12 * time.Second, true}, {2, 13 * time.Second, false}, {1, 14 * time.Second, true},
	}
	for i, s := range steps {
		got := f.Accept(result(uint64(i), infer.Label{Index: s.top, Score: 0.9}), t0.Add(s.at))
		if got != s.want {
			t.Errorf("step %d (top %d at %v): %v, want %v", i, s.top, s.at, got, s.want)
		}
	}
	if _, err := NewFilter(FilterConfig{Mode: "sometimes"}); err == nil {
		t.Error("bad mode accepted")
	}
}

func TestFilterSmoothing(t *testing.T) {
	f, _ := NewFilter(FilterConfig{Smoothing: 3})
	a := func(i int, s float32) infer.Label {
		return infer.Label{Label: string(rune('a' + i)), Index: i, Score: s}
	}
	seq := [][]infer.Label{{a(0, 0.9), a(1, 0.1)}, {a(1, 0.6), a(0, 0.4)}, {a(0, 0.8), a(1, 0.2)}, {a(1, 0.7), a(0, 0.3)}}
	var tops []int
	var scores []float32
	for i, l := range seq {
		r := result(uint64(i), l...)
		f.Accept(r, time.Now())
		tops = append(tops, r.Labels[0].Index)
		scores = append(scores, r.Labels[0].Score)
	}
	// Means: [0.9] → a; [0.65,0.35] → a; [0.7,0.3] → a; last three (0.4+0.8+0.3)/3=0.5 vs (0.6+0.2+0.7)/3=0.5 → tie, lower index a.
	want := []int{0, 0, 0, 0}
	for i := range want {
		if tops[i] != want[i] {
			t.Errorf("step %d: top %d (%.3f), want %d", i, tops[i], scores[i], want[i])
		}
	}
	if d := scores[1] - 0.65; d > 1e-5 || d < -1e-5 {
		t.Errorf("smoothed score %v, want 0.65", scores[1])
	}
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	s := NewStdout(&buf, "dev", "b")
	s.Publish(context.Background(), "c", result(1))
	s.Publish(context.Background(), "c", result(2))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var p Payload
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &p) != nil || p.Seq != 2 {
		t.Fatalf("stdout lines %q", lines)
	}
}

func brokerConfig(url string) config.Broker {
	c := config.Defaults().Broker
	c.URL = url
	c.ConnectTimeout = 5 * time.Second
	return c
}

func TestPublishToMosquitto(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	p, err := New(brokerConfig(b.URL()), "dev1", "boot1", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := p.Publish(ctx, "cam1", result(uint64(10+i), infer.Label{Label: "x", Index: 1, Score: 0.7})); err != nil {
			t.Fatal(err)
		}
	}
	msgs := sub.WaitFor(ctx, t, "edged/dev1/cam1/result", 5*time.Second, func(m []mqtttest.Message) bool { return len(m) == 5 })
	for i, m := range msgs {
		var pl Payload
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
	p, err := New(cfg, "devw", "b", slog.Default())
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
	if _, err := New(cfg, "d", "b", slog.Default()); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("got %v, want a refusal to send the password in clear", err)
	}
	cfg.URL = "tcp://127.0.0.1:1883"
	if _, err := New(cfg, "d", "b", slog.Default()); err != nil {
		t.Fatalf("loopback with password: %v", err)
	}
}

func TestEmbeddedBroker(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	eb, err := StartEmbedded(addr, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	sub := mqtttest.Subscribe(t, addr, "edged/#")
	p, err := New(brokerConfig(eb.URL()), "e", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, "c", result(1, infer.Label{Label: "y", Index: 2, Score: 1})); err != nil {
		t.Fatal(err)
	}
	sub.WaitFor(ctx, t, "edged/e/c/result", 5*time.Second, func(m []mqtttest.Message) bool { return len(m) == 1 })
	p.Close(ctx)
	if _, err := StartEmbedded("0.0.0.0:1883", slog.Default()); err == nil {
		t.Error("a non-loopback embedded broker was allowed")
	}
}
