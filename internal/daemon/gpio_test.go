package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/gpio"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samplevideo"
	"github.com/edged-io/edged/internal/statusapi"
	"github.com/edged-io/edged/internal/testenv"
)

// TestRunMissingPin: a pin this machine does not have stops edged at start
// with the field and the pin named, before anything is loaded.
func TestRunMissingPin(t *testing.T) {
	cfg, err := config.Parse([]byte("cameras:\n  - name: front\n    source: none.avi\ngpio:\n  outputs:\n    - pin: NO_SUCH_PIN\n      when: [{labels: [person]}]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Options{Config: cfg, NoMQTT: true, Stdout: io.Discard, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "gpio.outputs[0].pin") || !strings.Contains(err.Error(), `"NO_SUCH_PIN"`) {
		t.Fatalf("got %v, want an error naming gpio.outputs[0].pin and NO_SUCH_PIN", err)
	}
}

func TestLEDHealth(t *testing.T) {
	var l ledHealth
	if h := l.Health(); h != result.Degraded {
		t.Errorf("before the pipeline exists: %v, want degraded (starting)", h)
	}
	for _, tc := range []struct {
		states []string
		want   result.Health
	}{
		{[]string{"streaming", "ended"}, result.Healthy},
		{[]string{"streaming", "reconnecting"}, result.Degraded},
		{[]string{"failed"}, result.Unhealthy},
	} {
		snap := func() statusapi.Snapshot {
			s := statusapi.Snapshot{Cameras: map[string]result.Status{}}
			for i, st := range tc.states {
				s.Cameras[string(rune('a'+i))] = result.Status{State: result.State(st)}
			}
			return s
		}
		l.snapshot.Store(&snap)
		if h := l.Health(); h != tc.want {
			t.Errorf("cameras %v: %v, want %v", tc.states, h, tc.want)
		}
	}
}

// recPin is a gpiotest pin that records every level driven on it.
type recPin struct {
	*gpiotest.Pin
	mu  sync.Mutex
	out []pgpio.Level
}

func (p *recPin) Out(l pgpio.Level) error {
	p.mu.Lock()
	p.out = append(p.out, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *recPin) driven() []pgpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pgpio.Level(nil), p.out...)
}

// TestRunWiresGPIO runs the daemon over a video on two cameras, one gated
// by an active PIR pin and one by an inactive one, with a relay for the
// space shuttle on the first camera and a status LED: the daemon wires the
// gates, the output rule and the LED.
func TestRunWiresGPIO(t *testing.T) {
	lib := testenv.Library(t, "tflite")
	photo := testenv.Photo(t, "space_shuttle.jpg")
	video := filepath.Join(t.TempDir(), "shuttle.avi")
	if err := samplevideo.Write(video, []string{photo}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 3}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDGED_MODEL_DIR", filepath.Join("..", "..", "models"))
	cfg, err := config.Parse([]byte(`
http: {addr: ""}
cameras:
  - {name: front, source: `+video+`}
  - {name: back, source: `+video+`}
gpio:
  inputs:
    - {pin: PIR1, pull: float, cameras: [front]}
    - {pin: PIR2, pull: float, cameras: [back]}
  outputs:
    - pin: RELAY
      when: [{labels: [space shuttle], min_score: 0.5, cameras: [front]}]
  status_led: {pin: LED}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]*recPin{}
	for _, n := range []string{"PIR1", "PIR2", "RELAY", "LED"} {
		pins[n] = &recPin{Pin: &gpiotest.Pin{N: n, EdgesChan: make(chan pgpio.Level)}}
	}
	pins["PIR1"].L = pgpio.High // motion on the front camera, none at the back
	var stdout bytes.Buffer
	err = Run(context.Background(), Options{Config: cfg, NoMQTT: true, Stdout: &stdout, TFLiteLib: lib,
		Log: slog.New(slog.DiscardHandler), GPIOPins: func(name string) gpio.Pin { return pins[name] }})
	if err != nil {
		t.Fatal(err)
	}
	perCamera := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var p publish.Payload
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		perCamera[p.Camera]++
	}
	if perCamera["front"] != 3 || perCamera["back"] != 0 {
		t.Errorf("results per camera %v, want front 3 (PIR active), back 0 (PIR inactive)", perCamera)
	}
	relay := pins["RELAY"].driven()
	if !slices.Contains(relay, pgpio.High) || relay[len(relay)-1] != pgpio.Low {
		t.Errorf("relay driven %v, want on for the shuttle, then off at shutdown", relay)
	}
	if led := pins["LED"].driven(); !slices.Contains(led, pgpio.High) || led[len(led)-1] != pgpio.Low {
		t.Errorf("status LED driven %v, want lit while running, off at shutdown", led)
	}
}
