package pipeline

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/gpio"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samplevideo"
	"github.com/edged-io/edged/internal/testenv"
)

// collect is a Sink that keeps a copy of what it is given (the pipeline
// reuses its results).
type collect struct {
	mu      sync.Mutex
	results []result.Result
}

func (c *collect) Publish(_ context.Context, _ string, r *result.Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *r
	cp.Labels = append([]result.Label(nil), r.Labels...)
	c.results = append(c.results, cp)
	return nil
}

// TestGPIOGateAndOutput runs the real model over a video made from the
// space shuttle photo, with a gpiotest PIR input gating the camera and a
// relay output whose rule wants "space shuttle": while the PIR is inactive
// no frame is inferred and the relay stays off; once it is active every
// frame is inferred and the relay switches on; Close releases it.
func TestGPIOGateAndOutput(t *testing.T) {
	e := engine(t)
	photo := testenv.Photo(t, "space_shuttle.jpg")
	const frames = 4
	video := filepath.Join(t.TempDir(), "shuttle.avi")
	if err := samplevideo.Write(video, []string{photo}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: frames}); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Post: infer.PostConfig{TopK: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	quiet := slog.New(slog.DiscardHandler)
	pir := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan pgpio.Level)}
	relay := &gpiotest.Pin{N: "GPIO27"}
	pins := map[string]pgpio.PinIO{"GPIO17": pir, "GPIO27": relay}
	ctl, err := gpio.New(config.GPIO{
		Inputs: []config.GPIOInput{{Pin: "GPIO17", Active: "high", Pull: "auto", Cameras: []string{"front"}, Mode: "while_active"}},
		Outputs: []config.GPIOOutput{{Pin: "GPIO27", MinOn: time.Second, HoldOff: time.Hour,
			When: []config.GPIORule{{Labels: []string{"space shuttle"}, MinScore: 0.5}}}},
	}, gpio.Options{Log: quiet, Lookup: func(name string) pgpio.PinIO { return pins[name] }})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctl.Run(ctx)
	}()

	// run plays the whole video once through a new pipeline.
	run := func() (*collect, *metrics.Camera) {
		t.Helper()
		met, sink := metrics.New(metrics.BuildInfo{}), &collect{}
		p, err := New(Options{
			Cameras:  []CameraSpec{{Camera: camera.Config{Name: "front", Source: video}, Model: m, Gate: ctl.Gate("front")}},
			Sink:     sink,
			Log:      quiet,
			Metrics:  met,
			Observer: ctl,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return sink, met.Camera("front")
	}

	sink, met := run()
	if n, g := testutil.ToFloat64(met.Inferred), testutil.ToFloat64(met.Gated); n != 0 || g != frames || len(sink.results) != 0 {
		t.Fatalf("PIR inactive: %v inferred, %v gated, %d results; want 0, %d, 0", n, g, len(sink.results), frames)
	}
	if relay.Read() != pgpio.Low {
		t.Fatal("relay on although nothing was inferred")
	}

	pir.EdgesChan <- pgpio.High
	deadline := time.Now().Add(10 * time.Second)
	for !ctl.Gate("front").Allow() { // while_active: asking uses nothing up
		if time.Now().After(deadline) {
			t.Fatal("the PIR edge never opened the gate")
		}
		time.Sleep(time.Millisecond)
	}

	sink, met = run()
	if n, g := testutil.ToFloat64(met.Inferred), testutil.ToFloat64(met.Gated); n != frames || g != 0 || len(sink.results) != frames {
		t.Fatalf("PIR active: %v inferred, %v gated, %d results; want %d, 0, %d", n, g, len(sink.results), frames, frames)
	}
	for _, r := range sink.results {
		if top := r.Labels[0]; top.Label != "space shuttle" || top.Score < 0.5 {
			t.Errorf("frame %d: top-1 %+v, want space shuttle scoring at least 0.5", r.Frame, top)
		}
	}
	if relay.Read() != pgpio.High {
		t.Fatal("relay off although the space shuttle was seen")
	}
	if err := ctl.Close(); err != nil {
		t.Fatal(err)
	}
	if relay.Read() != pgpio.Low {
		t.Error("relay still on after Close")
	}
}
