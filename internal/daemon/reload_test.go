package daemon

import (
	"slices"
	"testing"

	"github.com/edged-io/edged/internal/config"
)

// TestRestartKeys: live settings (a camera's model and publish settings,
// models) are not listed; everything else that differs is, by field.
func TestRestartKeys(t *testing.T) {
	running := config.Defaults()
	running.Cameras = []config.Camera{config.NewCamera("a", "a.mp4"), config.NewCamera("b", "b.mp4")}
	next := config.Defaults()
	next.Cameras = []config.Camera{config.NewCamera("b", "b.mp4"), config.NewCamera("a", "a.mp4"), config.NewCamera("c", "c.mp4")}
	next.Cameras[0].Publish.Mode = "change"
	next.Cameras[0].Model = "other"
	next.Models[0].TopK = 1
	next.Cameras[1].FPS = 3
	next.Broker.URL = "tcp://127.0.0.1:1884"
	next.Queue.MaxBytes++
	got := restartKeys(running, next)
	want := []string{"broker", "queue", "cameras[1].fps", `cameras: "c" added`}
	if !slices.Equal(got, want) {
		t.Errorf("restartKeys = %q, want %q", got, want)
	}
	next.Cameras = next.Cameras[:1]
	if got := restartKeys(running, next); !slices.Contains(got, `cameras: "a" removed`) {
		t.Errorf("a removed camera is not listed: %q", got)
	}
	if got := restartKeys(running, running); len(got) != 0 {
		t.Errorf("the same config lists %q", got)
	}
}
