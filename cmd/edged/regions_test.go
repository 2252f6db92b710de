package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
)

// gridVideo writes a video of real photos side by side: the left cell
// shows left[0] for the first perPhoto frames, then left[1], ...; the
// right cell shows right throughout. Cells are 224×224.
func gridVideo(t *testing.T, left []string, right string, perPhoto int) string {
	t.Helper()
	load := func(name string) gocv.Mat {
		m := gocv.IMRead(photo(t, name), gocv.IMReadColor)
		if m.Empty() {
			t.Fatalf("cannot read %s", name)
		}
		out := gocv.NewMat()
		gocv.Resize(m, &out, image.Pt(224, 224), 0, 0, gocv.InterpolationArea)
		m.Close()
		return out
	}
	path := filepath.Join(t.TempDir(), "grid.avi")
	w, err := gocv.VideoWriterFile(path, "MJPG", 10, 448, 224, true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := load(right)
	defer r.Close()
	frame := gocv.NewMatWithSize(224, 448, gocv.MatTypeCV8UC3)
	defer frame.Close()
	for _, name := range left {
		l := load(name)
		for range perPhoto {
			lc, rc := frame.Region(image.Rect(0, 0, 224, 224)), frame.Region(image.Rect(224, 0, 448, 224))
			l.CopyTo(&lc)
			r.CopyTo(&rc)
			lc.Close()
			rc.Close()
			if err := w.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}
	return path
}

// regionsConfig: camera "cam" on device "d" with two regions over the
// grid, one in pixels on every frame, one in fractions gated by motion.
func regionsConfig(t *testing.T, brokerURL, video, stateDir string, loop bool, fps int) string {
	t.Helper()
	y := fmt.Sprintf(`device: d
log: {format: json}
http: {addr: "127.0.0.1:0"}
broker: {url: %s, connect_timeout: 2s}
state_dir: %s
homeassistant: {discovery: true, binary_sensors: [{region: left, label: orange}]}
cameras:
  - name: cam
    source: %s
    loop: %v
    fps: %d
    regions:
      - {name: left, roi: {x: 0, y: 0, w: 224, h: 224}, confirm: 3, min_score: 0.2, samples: {when: [state_change]}}
      - name: right
        roi: {x: 0.5, y: 0.0, w: 0.5, h: 1.0}
        min_score: 0.2
        trigger: {mode: motion, heartbeat: 2s}
`, brokerURL, stateDir, video, loop, fps)
	path := filepath.Join(t.TempDir(), "edged.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func stateOf(t *testing.T, m mqtttest.Message) publish.StatePayload {
	t.Helper()
	var s publish.StatePayload
	if err := json.Unmarshal([]byte(m.Payload), &s); err != nil {
		t.Fatalf("state on %s: %v: %s", m.Topic, err, m.Payload)
	}
	return s
}

// TestRegionStatesEndToEnd: the real binary, runtime and model on a grid
// of real photos with a real mosquitto. Each region's retained state ends
// on its photo's label; each change is one event, confirmed by exactly the
// third result showing the new photo; the motion-gated region on the still
// cell runs only its first inference and heartbeats; a SIGKILL and two
// restarts never bring a state back to unknown; Home Assistant discovery
// configs are retained for each region and camera.
func TestRegionStatesEndToEnd(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "#")
	video := gridVideo(t, []string{"space_shuttle.jpg", "orange.jpg"}, "baboon.jpg", 10)
	stateDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Run 1: to the end of the video.
	t0 := time.Now()
	cmd, log := start(t, ctx, nil, "run", "--config", regionsConfig(t, b.URL(), video, stateDir, false, 10))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged: %v\n%s", err, tail(log.String()))
	}
	elapsed := time.Since(t0)
	results := payloads(t, sub.Messages("edged/d/cam/result"))
	var left, right []publish.Payload
	for _, p := range results {
		switch p.Region {
		case "left":
			left = append(left, p)
		case "right":
			right = append(right, p)
		default:
			t.Fatalf("result without a known region: %+v", p)
		}
	}
	if len(left) != 20 {
		t.Fatalf("left: %d results, want 20 (every frame)", len(left))
	}
	// Each trigger (the first frame, a heartbeat) runs confirm (3) frames.
	if beats := 3 * (int(elapsed/(2*time.Second)) + 1); len(right) < 3 || len(right) > beats {
		t.Errorf("right (motion, still cell): %d inferences in %v, want 3 to %d (runs of 3 at the first frame and each heartbeat)", len(right), elapsed.Round(time.Millisecond), beats)
	}
	var events []publish.EventPayload
	for _, m := range sub.Messages("edged/d/cam/left/event") {
		var e publish.EventPayload
		if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if len(events) != 2 || events[0].From != "unknown" || events[0].To != "space shuttle" || events[1].From != "space shuttle" || events[1].To != "orange" {
		t.Fatalf("left events %+v: want unknown → space shuttle → orange, once each", events)
	}
	// Confirmed by exactly the third result showing the new photo.
	firstOrange := -1
	for i, p := range left {
		if firstOrange < 0 && p.Labels[0].Label == "orange" {
			firstOrange = i
		}
	}
	if !events[0].TS.Equal(left[2].TS) || firstOrange < 0 || !events[1].TS.Equal(left[firstOrange+2].TS) {
		t.Errorf("events at %v and %v; want the 3rd result (%v) and the 3rd orange one (index %d)", events[0].TS, events[1].TS, left[2].TS, firstOrange+2)
	}
	if events[1].Duration == nil || *events[1].Duration <= 0 {
		t.Errorf("the second event has no duration of the old state: %+v", events[1])
	}
	states := sub.Messages("edged/d/cam/left/state")
	if s := stateOf(t, states[len(states)-1]); s.State != "orange" || s.Seq != 2 || s.Since == nil {
		t.Errorf("left's last state %+v: want orange, seq 2, with since", s)
	}
	rs := sub.Messages("edged/d/cam/right/state")
	if len(rs) == 0 {
		t.Fatalf("right has no state: its %d results did not confirm one", len(right))
	}
	if s := stateOf(t, rs[len(rs)-1]); s.State != "baboon" {
		t.Errorf("right's state %+v: want baboon", s)
	}
	// The left region kept the crop of each state change, with its labels.
	samplesDir := filepath.Join(stateDir, "samples", "cam", "left")
	jpgs, _ := filepath.Glob(filepath.Join(samplesDir, "*.jpg"))
	sides, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if len(jpgs) != 2 || len(sides) != 2 {
		t.Fatalf("samples %v %v: want a JPEG and a sidecar for each of the 2 changes", jpgs, sides)
	}
	for i, want := range []string{"space shuttle", "orange"} {
		var side struct {
			Reason string `json:"reason"`
			Labels []struct {
				Label string `json:"label"`
			} `json:"labels"`
		}
		data, _ := os.ReadFile(sides[i])
		if err := json.Unmarshal(data, &side); err != nil || side.Reason != "state_change" || side.Labels[0].Label != want {
			t.Errorf("sample %d: %s, want a state_change sample labelled %q", i, data, want)
		}
	}
	// Home Assistant discovery, retained.
	late := mqtttest.Subscribe(t, b.Addr, "homeassistant/#")
	late.WaitFor(ctx, t, "homeassistant/", 10*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 6 })
	var cfg struct {
		StateTopic        string `json:"state_topic"`
		AvailabilityTopic string `json:"availability_topic"`
		ValueTemplate     string `json:"value_template"`
		Device            struct {
			Identifiers []string `json:"identifiers"`
		} `json:"device"`
	}
	found := map[string]bool{}
	for _, m := range late.Messages("homeassistant/") {
		found[m.Topic] = true
		if m.Topic == "homeassistant/sensor/d/cam_left/config" {
			if err := json.Unmarshal([]byte(m.Payload), &cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, topic := range []string{"homeassistant/sensor/d/cam_left/config", "homeassistant/sensor/d/cam_right/config",
		"homeassistant/sensor/d/cam_fps/config", "homeassistant/binary_sensor/d/cam_left_orange/config"} {
		if !found[topic] {
			t.Errorf("no retained discovery config on %s (have %v)", topic, found)
		}
	}
	if cfg.StateTopic != "edged/d/cam/left/state" || cfg.AvailabilityTopic != "edged/d/status" || len(cfg.Device.Identifiers) == 0 {
		t.Errorf("left's discovery config %+v", cfg)
	}

	// Run 2: looping; killed with SIGKILL once it has published.
	before := len(sub.Messages("edged/d/cam/left/state"))
	cmd, _ = start(t, ctx, nil, "run", "--config", regionsConfig(t, b.URL(), video, stateDir, true, 10))
	sub.WaitFor(ctx, t, "edged/d/cam/result", 60*time.Second, func(m []mqtttest.Message) bool { return len(m) >= len(results)+15 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// Run 3: restarted; stopped cleanly. On the way, reloads: one with a
	// bad region is rejected naming the field, one with a region moved
	// restarts the camera with its regions live; neither loses a state.
	cfg3 := regionsConfig(t, b.URL(), video, stateDir, true, 10)
	good, _ := os.ReadFile(cfg3)
	cmd, log = start(t, ctx, nil, "run", "--config", cfg3)
	sub.WaitFor(ctx, t, "edged/d/cam/result", 60*time.Second, func(m []mqtttest.Message) bool { return len(m) >= len(results)+20 })
	for _, tc := range []struct{ edit, want string }{
		{strings.Replace(string(good), "name: right", "name: Left", 1), `cameras[0].regions[1].name: region \"Left\" is already defined`},
		{strings.Replace(string(good), "w: 0.5, h: 1.0", "w: 0.4, h: 1.0", 1), `camera cam (restarted with 2 regions)`},
	} {
		if err := os.WriteFile(cfg3, []byte(tc.edit), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Signal(syscall.SIGHUP)
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), tc.want); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after the reload:\n%s", tc.want, tail(log.String()))
			}
		}
	}
	n := len(sub.Messages("edged/d/cam/result"))
	sub.WaitFor(ctx, t, "edged/d/cam/result", 60*time.Second, func(m []mqtttest.Message) bool { return len(m) >= n+10 })
	for _, p := range payloads(t, sub.Messages("edged/d/cam/result")[n:]) {
		if p.Region != "left" && p.Region != "right" {
			t.Errorf("after the reloads a result for region %q", p.Region)
		}
	}
	if strings.Contains(log.String(), "need a restart") {
		t.Errorf("the reload that moves a region asked for a restart of edged:\n%s", tail(log.String()))
	}
	stopEdged(t, cmd, log)
	after := sub.Messages("edged/d/cam/left/state")[before:]
	if len(after) < 2 {
		t.Fatalf("%d left states over two restarts: want the restored one announced at each start", len(after))
	}
	var prev uint64
	for _, m := range after {
		s := stateOf(t, m)
		if s.State == "unknown" {
			t.Fatalf("a restart flapped to unknown: %s\n%s", m.Payload, tail(log.String()))
		}
		if s.Seq < prev {
			t.Errorf("state seq went back from %d to %d: %s", prev, s.Seq, m.Payload)
		}
		prev = s.Seq
	}
	if !strings.Contains(log.String(), `"msg":"region states"`) {
		t.Errorf("no region states line in the log")
	}
}
