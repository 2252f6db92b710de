package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/gpio"
	"github.com/edged-io/edged/internal/statusapi"
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
	if h := l.Health(); h != gpio.Degraded {
		t.Errorf("before the pipeline exists: %v, want degraded (starting)", h)
	}
	for _, tc := range []struct {
		states []string
		want   gpio.Health
	}{
		{[]string{"streaming", "ended"}, gpio.Healthy},
		{[]string{"streaming", "reconnecting"}, gpio.Degraded},
		{[]string{"failed"}, gpio.Failed},
	} {
		snap := func() statusapi.Snapshot {
			s := statusapi.Snapshot{Cameras: map[string]statusapi.Camera{}}
			for i, st := range tc.states {
				s.Cameras[string(rune('a'+i))] = statusapi.Camera{State: st}
			}
			return s
		}
		l.snapshot.Store(&snap)
		if h := l.Health(); h != tc.want {
			t.Errorf("cameras %v: %v, want %v", tc.states, h, tc.want)
		}
	}
}
