package homeassistant

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/publish"
)

const doc = `device: gate-1
homeassistant: {discovery: true, binary_sensors: [{region: door, label: person}]}
cameras:
  - name: front
    source: /dev/video0
    regions:
      - {name: door, roi: {x: 0, y: 0, w: 0.5, h: 1.0}}
      - {name: porch, roi: {x: 0.5, y: 0.0, w: 0.5, h: 1.0}}
`

type sent struct {
	topic   string
	payload string
	retain  bool
}

type fakeClient struct {
	mu   sync.Mutex
	sent []sent
	subs map[string]func([]byte)
}

func (f *fakeClient) Send(_ context.Context, topic string, payload []byte, retain bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{topic, string(payload), retain})
	return nil
}

func (f *fakeClient) Subscribe(topic string, h func([]byte)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[string]func([]byte){}
	}
	f.subs[topic] = h
}

func (f *fakeClient) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func entries(t *testing.T, y string) []Entry {
	t.Helper()
	cfg, err := config.Parse([]byte(y), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Entries(cfg, Device{ID: publish.Identity{Device: "gate-1", TopicPrefix: "edged"}, Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEntries: a sensor per region on its state topic, the binary sensor,
// three diagnostics, all available through edged's status topic.
func TestEntries(t *testing.T) {
	es := entries(t, doc)
	var topics []string
	for _, e := range es {
		topics = append(topics, e.Topic)
		var c map[string]any
		if err := json.Unmarshal(e.Payload, &c); err != nil {
			t.Fatalf("%s: %v", e.Topic, err)
		}
		if c["availability_topic"] != "edged/gate-1/status" || c["unique_id"] == "" {
			t.Errorf("%s: %v", e.Topic, c)
		}
		if e.Topic == "homeassistant/sensor/gate_1/front_door/config" && (c["state_topic"] != "edged/gate-1/front/door/state" || c["value_template"] != "{{ value_json.state }}") {
			t.Errorf("door sensor: %v", c)
		}
		if e.Topic == "homeassistant/binary_sensor/gate_1/front_door_person/config" && c["value_template"] != `{{ 'ON' if value_json.state == "person" else 'OFF' }}` {
			t.Errorf("binary sensor template %v", c["value_template"])
		}
	}
	for _, want := range []string{"homeassistant/sensor/gate_1/front_door/config", "homeassistant/sensor/gate_1/front_porch/config",
		"homeassistant/binary_sensor/gate_1/front_door_person/config", "homeassistant/sensor/gate_1/front_fps/config",
		"homeassistant/sensor/gate_1/front_infer_ms/config", "homeassistant/sensor/gate_1/front_queue_depth/config"} {
		if !slices.Contains(topics, want) {
			t.Errorf("no %s in %v", want, topics)
		}
	}
}

// TestAnnouncerClearsRemoved: a region gone from the configuration gets an
// empty retained config at the next announcement, and Home Assistant's
// "online" brings the configs again.
func TestAnnouncerClearsRemoved(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ha.json")
	run := func(es []Entry) *fakeClient {
		c := &fakeClient{}
		a := NewAnnouncer(c, "homeassistant", es, file, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(ctx); close(done) }()
		waitFor(t, func() bool { return c.count() >= len(es) })
		c.mu.Lock()
		h := c.subs["homeassistant/status"]
		c.mu.Unlock()
		n := c.count()
		h([]byte("online"))
		waitFor(t, func() bool { return c.count() >= n+len(es) })
		cancel()
		<-done
		return c
	}
	run(entries(t, doc))
	c := run(entries(t, `device: gate-1
homeassistant: {discovery: true}
cameras:
  - name: front
    source: /dev/video0
    regions:
      - {name: door, roi: {x: 0, y: 0, w: 0.5, h: 1.0}}
`))
	cleared := map[string]bool{}
	for _, s := range c.sent {
		if !s.retain {
			t.Errorf("%s not retained", s.topic)
		}
		if s.payload == "" {
			cleared[s.topic] = true
		}
	}
	if !cleared["homeassistant/sensor/gate_1/front_porch/config"] || !cleared["homeassistant/binary_sensor/gate_1/front_door_person/config"] || len(cleared) != 2 {
		t.Errorf("cleared %v: want porch's sensor and the binary sensor only", cleared)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}
