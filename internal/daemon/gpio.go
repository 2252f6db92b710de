package daemon

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/gpio"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/statusapi"
)

// gpioHook is the daemon's GPIO controller, or nothing when the
// configuration has no pins; its methods are safe on a nil hook.
type gpioHook struct {
	ctl  *gpio.Controller
	stop context.CancelFunc
	done sync.WaitGroup
}

// startGPIO sets up and runs the configured pins; a missing pin is an error
// naming its field. It returns nil when no pin is configured.
func startGPIO(ctx context.Context, cfg config.GPIO, opts gpio.Options) (*gpioHook, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	ctl, err := gpio.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	h := &gpioHook{ctl: ctl}
	runCtx, stop := context.WithCancel(ctx)
	h.stop = stop
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		if err := ctl.Run(runCtx); err != nil {
			opts.Log.Error("gpio stopped", "err", err)
		}
	}()
	return h, nil
}

// gate is camera's gate, or nil when no input gates it.
func (h *gpioHook) gate(camera string) pipeline.Gate {
	if h == nil {
		return nil
	}
	if g := h.ctl.Gate(camera); g != nil {
		return g
	}
	return nil
}

// observer is what sees results for the output rules, or nil.
func (h *gpioHook) observer() pipeline.Observer {
	if h == nil {
		return nil
	}
	return h.ctl
}

// register adds the GPIO metrics to the daemon's registry.
func (h *gpioHook) register(r prometheus.Registerer) error {
	if h == nil {
		return nil
	}
	return h.ctl.Register(r)
}

// close stops the controller and drives the outputs inactive.
func (h *gpioHook) close() {
	if h == nil {
		return
	}
	h.stop()
	h.done.Wait()
	h.ctl.Close()
}

// ledHealth grades the daemon for the status LED as /healthz does, once
// the daemon can take a snapshot; until then it shows degraded (starting).
type ledHealth struct {
	snapshot atomic.Pointer[func() statusapi.Snapshot]
}

// Health implements gpio.HealthSource.
func (l *ledHealth) Health() result.Health {
	f := l.snapshot.Load()
	if f == nil {
		return result.Degraded
	}
	return (*f)().Health()
}
