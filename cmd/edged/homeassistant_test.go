package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/testenv"
)

// hass is a headless Home Assistant whose MQTT integration uses the
// broker at port. Every state change of every entity is published back
// by an automation on hass-echo/<entity_id> (its state, or "removed"), so
// the test reads Home Assistant's own state machine without an access
// token.
type hass struct {
	cmd *exec.Cmd
	dir string
	log *lockedBuffer
}

func startHass(t *testing.T, ctx context.Context, brokerPort string) *hass {
	t.Helper()
	bin := testenv.HomeAssistant(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`homeassistant:
  name: edged-test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
http:
  server_host: 127.0.0.1
  server_port: %d
automation:
  - alias: echo every state change
    mode: queued
    max: 1000
    trigger:
      - platform: event
        event_type: state_changed
    condition:
      # Not its own state changes (its last_triggered): that would loop.
      - condition: template
        value_template: "{{ not trigger.event.data.entity_id.startswith('automation.') }}"
    action:
      - service: mqtt.publish
        data:
          topic: "hass-echo/{{ trigger.event.data.entity_id }}"
          payload: "{{ trigger.event.data.new_state.state if trigger.event.data.new_state else 'removed' }}"
`, mqtttest.FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, "configuration.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The MQTT integration is set up through the UI only; a config entry
	// written beforehand is what the UI would store.
	port := 0
	fmt.Sscan(brokerPort, &port)
	entries := map[string]any{"version": 1, "minor_version": 1, "key": "core.config_entries", "data": map[string]any{
		"entries": []any{map[string]any{
			"entry_id": "0123456789abcdef0123456789abcdef", "version": 1, "minor_version": 1, "domain": "mqtt", "title": "127.0.0.1",
			"data":    map[string]any{"broker": "127.0.0.1", "port": port, "discovery": true},
			"options": map[string]any{}, "pref_disable_new_entities": false, "pref_disable_polling": false,
			"source": "user", "unique_id": nil, "disabled_by": nil,
		}}}}
	b, _ := json.Marshal(entries)
	os.MkdirAll(filepath.Join(dir, ".storage"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, ".storage", "core.config_entries"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &hass{dir: dir, log: &lockedBuffer{}}
	h.cmd = exec.CommandContext(ctx, bin, "-c", dir, "--skip-pip")
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			h.cmd.Process.Kill()
			h.cmd.Wait()
		}
	})
	return h
}

// stop ends Home Assistant cleanly, which saves its registries.
func (h *hass) stop(t *testing.T) {
	t.Helper()
	h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		h.cmd.Process.Kill()
		<-done
		t.Errorf("Home Assistant did not stop within 60s:\n%s", tail(h.log.String()))
	}
}

// entities reads Home Assistant's entity registry: unique_id → entity_id
// of the MQTT platform's entities.
func (h *hass) entities(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, ".storage", "core.entity_registry"))
	if err != nil {
		t.Fatalf("entity registry: %v\n%s", err, tail(h.log.String()))
	}
	var reg struct {
		Data struct {
			Entities []struct {
				EntityID string `json:"entity_id"`
				UniqueID string `json:"unique_id"`
				Platform string `json:"platform"`
			} `json:"entities"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range reg.Data.Entities {
		if e.Platform == "mqtt" {
			out[e.UniqueID] = e.EntityID
		}
	}
	return out
}

// echoed returns the latest state Home Assistant reported per entity.
func echoed(sub *mqtttest.Subscriber) map[string]string {
	out := map[string]string{}
	for _, m := range sub.Messages("hass-echo/") {
		out[strings.TrimPrefix(m.Topic, "hass-echo/")] = m.Payload
	}
	return out
}

// TestHomeAssistant runs edged with regions and discovery against a real
// Home Assistant (PyPI homeassistant 2024.3.3, headless) on a real
// mosquitto: the region sensors, binary sensor and diagnostics appear as
// entities of one device, their states are the regions' states, they turn
// unavailable when edged stops, and a region removed from the
// configuration is removed from Home Assistant at edged's next start.
func TestHomeAssistant(t *testing.T) {
	b := mqtttest.Start(t)
	_, brokerPort, _ := net.SplitHostPort(b.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	sub := mqtttest.Subscribe(t, b.Addr, "#")
	h := startHass(t, ctx, brokerPort)
	// Home Assistant's MQTT integration announces itself online.
	deadline := time.Now().Add(3 * time.Minute)
	for !hasPayload(sub.Messages("homeassistant/status"), "online") {
		if time.Now().After(deadline) || h.cmd.ProcessState != nil {
			t.Fatalf("Home Assistant's MQTT integration never came online:\n%s", tail(h.log.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}

	video := gridVideo(t, []string{"space_shuttle.jpg", "orange.jpg"}, "baboon.jpg", 10)
	stateDir := t.TempDir()
	cfg := regionsConfig(t, b.URL(), video, stateDir, true, 10)
	cmd, log := start(t, ctx, nil, "run", "--config", cfg)
	want := map[string]func(string) bool{
		"sensor.d_cam_left":               func(s string) bool { return s == "space shuttle" || s == "orange" },
		"sensor.d_cam_right":              func(s string) bool { return s == "baboon" },
		"binary_sensor.d_cam_left_orange": func(s string) bool { return s == "on" || s == "off" },
	}
	waitEcho(t, sub, h, want, 2*time.Minute)
	// The sensor follows the state edged publishes: when edged's retained
	// state says orange, Home Assistant's sensor and binary sensor say so.
	waitEcho(t, sub, h, map[string]func(string) bool{
		"sensor.d_cam_left":               func(s string) bool { return s == "orange" },
		"binary_sensor.d_cam_left_orange": func(s string) bool { return s == "on" },
	}, time.Minute)
	waitEcho(t, sub, h, map[string]func(string) bool{
		"sensor.d_cam_left":               func(s string) bool { return s == "space shuttle" },
		"binary_sensor.d_cam_left_orange": func(s string) bool { return s == "off" },
	}, time.Minute)
	// The diagnostics (published every 15 s) read as numbers.
	number := func(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }
	positive := func(s string) bool { v, err := strconv.ParseFloat(s, 64); return err == nil && v > 0 }
	waitEcho(t, sub, h, map[string]func(string) bool{
		"sensor.d_cam_fps": positive, "sensor.d_cam_infer_ms": positive, "sensor.d_cam_queue_depth": number,
	}, 45*time.Second)
	// edged stops: its status goes offline, the entities unavailable.
	stopEdged(t, cmd, log)
	waitEcho(t, sub, h, map[string]func(string) bool{
		"sensor.d_cam_left":  func(s string) bool { return s == "unavailable" },
		"sensor.d_cam_right": func(s string) bool { return s == "unavailable" },
	}, time.Minute)

	// edged starts again without the right region: its entity goes away,
	// and the left one is back with its restored state (not unknown).
	cfg2 := filepath.Join(t.TempDir(), "edged.yaml")
	data, _ := os.ReadFile(cfg)
	y := string(data)
	i := strings.Index(y, "      - name: right")
	if err := os.WriteFile(cfg2, []byte(y[:i]), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := len(sub.Messages("hass-echo/sensor.d_cam_left"))
	cmd, log = start(t, ctx, nil, "run", "--config", cfg2)
	waitEcho(t, sub, h, map[string]func(string) bool{
		"sensor.d_cam_right": func(s string) bool { return s == "removed" },
		"sensor.d_cam_left":  func(s string) bool { return s == "orange" || s == "space shuttle" },
	}, time.Minute)
	// (A new entity is unknown until its first state; after a restart it
	// must go from unavailable straight to the restored state.)
	for _, m := range sub.Messages("hass-echo/sensor.d_cam_left")[seen:] {
		if m.Payload == "unknown" {
			t.Errorf("after edged's restart Home Assistant showed the left region unknown")
		}
	}
	stopEdged(t, cmd, log)
	h.stop(t)
	ents := h.entities(t)
	for uid, id := range map[string]string{
		"edged_d_cam_left": "sensor.d_cam_left", "edged_d_cam_left_orange": "binary_sensor.d_cam_left_orange",
		"edged_d_cam_fps": "sensor.d_cam_fps", "edged_d_cam_infer_ms": "sensor.d_cam_infer_ms", "edged_d_cam_queue_depth": "sensor.d_cam_queue_depth",
	} {
		if ents[uid] != id {
			t.Errorf("entity registry: unique_id %s is %q, want %s (registry: %v)", uid, ents[uid], id, ents)
		}
	}
	if _, ok := ents["edged_d_cam_right"]; ok {
		t.Errorf("the removed region's entity is still registered: %v", ents)
	}
}

func hasPayload(msgs []mqtttest.Message, payload string) bool {
	for _, m := range msgs {
		if m.Payload == payload {
			return true
		}
	}
	return false
}

// waitEcho waits until Home Assistant's latest state of each entity in
// want satisfies it.
func waitEcho(t *testing.T, sub *mqtttest.Subscriber, h *hass, want map[string]func(string) bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := echoed(sub)
		ok := true
		for id, cond := range want {
			if !cond(got[id]) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Home Assistant's states %v after %v do not match what is expected of %v\n%s", got, within, keys(want), tail(h.log.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func keys(m map[string]func(string) bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
