// Package gpio connects edged to a board's pins through periph: inputs (a
// PIR sensor, a door switch, a button) gate cameras, outputs (an LED, a
// relay, a buzzer) follow rules on results, and a status LED shows the
// daemon's health. Pins are resolved by name at start; a missing pin is an
// error naming the configuration field.
package gpio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/result"
)

// pollEvery bounds how long an input's watcher waits for an edge before it
// reads the pin anyway (a driver may miss an edge) and checks for shutdown.
const pollEvery = 200 * time.Millisecond

// Pin is a periph GPIO pin, as Options.Lookup returns it.
type Pin = gpio.PinIO

// Options configure a Controller.
type Options struct {
	Log *slog.Logger
	// Health feeds the status LED; nil shows healthy.
	Health HealthSource
	// Clock times debounce, min_on, hold_off and the LED pattern; nil is
	// the real clock.
	Clock clockwork.Clock
	// Lookup resolves a pin name; nil loads periph's host drivers and uses
	// gpioreg.ByName. Tests give periph's gpiotest pins here.
	Lookup func(name string) Pin
}

// Controller owns the configured pins. Create it with New, run it with Run,
// and Close it to drive every output to its inactive level.
type Controller struct {
	log    *slog.Logger
	clock  clockwork.Clock
	health HealthSource
	inputs []*input
	gates  map[string]*Gate
	wake   chan struct{}
	// handled counts the input levels Run has taken into account (settled
	// and timed); tests wait on it instead of sleeping.
	handled atomic.Int64

	gauges gauges

	mu      sync.Mutex // guards outputs, led and closed
	outputs []*output
	led     *statusLED
	closed  bool
}

// input is one gating pin and the gates of the cameras it gates.
type input struct {
	field  string
	pin    gpio.PinIn
	active gpio.Level
	deb    *debouncer
	gates  []*Gate
}

// statusLED is the health LED's pin and what it shows now.
type statusLED struct {
	pin    gpio.PinOut
	invert bool
	on     bool
	health result.Health
}

// New resolves and sets up the pins of cfg: inputs with their pull and edge
// detection, outputs and the status LED driven to their inactive level.
func New(cfg config.GPIO, opts Options) (*Controller, error) {
	c := &Controller{log: opts.Log, clock: opts.Clock, health: opts.Health,
		gates: map[string]*Gate{}, wake: make(chan struct{}, 1), gauges: newGauges()}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "gpio")
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}
	if c.health == nil {
		c.health = HealthFunc(func() result.Health { return result.Healthy })
	}
	lookup := opts.Lookup
	if lookup == nil {
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("gpio: load periph host drivers: %w", err)
		}
		lookup = func(name string) gpio.PinIO { return gpioreg.ByName(name) }
	}
	used := map[gpio.PinIO]string{}
	resolve := func(field, name string) (gpio.PinIO, error) {
		p := lookup(name)
		if p == nil {
			return nil, fmt.Errorf("%s: no GPIO pin named %q on this machine%s", field, name, knownPins(opts.Lookup == nil))
		}
		real := p
		if r, ok := p.(gpio.RealPin); ok {
			real = r.Real()
		}
		if prev, ok := used[real]; ok {
			return nil, fmt.Errorf("%s: pin %q is the same pin as %s", field, name, prev)
		}
		used[real] = field
		return p, nil
	}
	for i, ic := range cfg.Inputs {
		field := fmt.Sprintf("gpio.inputs[%d]", i)
		p, err := resolve(field+".pin", ic.Pin)
		if err != nil {
			return nil, c.fail(err)
		}
		in, err := newInput(field, p, ic)
		if err != nil {
			return nil, c.fail(err)
		}
		for _, cam := range ic.Cameras {
			g := &Gate{}
			if ic.Mode == "burst" {
				g.burst = ic.BurstFrames
			}
			g.active.Store(in.deb.stable)
			in.gates = append(in.gates, g)
			c.gates[cam] = g
		}
		c.inputs = append(c.inputs, in)
		c.gauges.input.WithLabelValues(p.Name()).Set(gauge(in.deb.stable))
		c.log.Info("gpio input ready", "field", field, "pin", p.Name(), "mode", ic.Mode, "cameras", ic.Cameras, "active", in.deb.stable)
	}
	for i, oc := range cfg.Outputs {
		field := fmt.Sprintf("gpio.outputs[%d]", i)
		p, err := resolve(field+".pin", oc.Pin)
		if err != nil {
			return nil, c.fail(err)
		}
		o := newOutput(field, p, oc)
		c.outputs = append(c.outputs, o) // before drive, so a failure still releases it
		if err := o.drive(); err != nil {
			return nil, c.fail(err)
		}
		c.gauges.output.WithLabelValues(p.Name()).Set(0)
	}
	if cfg.StatusLED.Pin != "" {
		p, err := resolve("gpio.status_led.pin", cfg.StatusLED.Pin)
		if err != nil {
			return nil, c.fail(err)
		}
		c.led = &statusLED{pin: p, invert: cfg.StatusLED.Invert} // no health yet: the first one is logged
		if err := p.Out(level(false, c.led.invert)); err != nil {
			return nil, c.fail(fmt.Errorf("gpio.status_led.pin: drive pin %s: %w", p, err))
		}
	}
	return c, nil
}

// fail releases what New set up so far and returns err.
func (c *Controller) fail(err error) error {
	c.Close()
	return err
}

// knownPins lists a few pin names periph knows, for an error message.
func knownPins(registry bool) string {
	if !registry {
		return ""
	}
	var names []string
	for _, p := range gpioreg.All() {
		names = append(names, p.Name())
	}
	if len(names) == 0 {
		return " (periph found no GPIO chip: is /dev/gpiochip* there and readable by edged's user?)"
	}
	sort.Strings(names)
	more := ""
	if len(names) > 12 {
		more = fmt.Sprintf(", and %d more", len(names)-12)
		names = names[:12]
	}
	return fmt.Sprintf(" (known: %s%s)", strings.Join(names, ", "), more)
}

func newInput(field string, p gpio.PinIO, ic config.GPIOInput) (*input, error) {
	in := &input{field: field, pin: p, active: gpio.High}
	pull := gpio.PullDown // rests inactive
	if ic.Active == "low" {
		in.active, pull = gpio.Low, gpio.PullUp
	}
	switch ic.Pull {
	case "up":
		pull = gpio.PullUp
	case "down":
		pull = gpio.PullDown
	case "float":
		pull = gpio.Float
	}
	if err := p.In(pull, gpio.BothEdges); err != nil {
		return nil, fmt.Errorf("%s: set pin %s as input with %s and edge detection: %w", field, p, pull, err)
	}
	in.deb = newDebouncer(ic.Debounce, p.Read() == in.active)
	return in, nil
}

// Gate returns the gate of camera, or nil when no input gates it.
func (c *Controller) Gate(camera string) *Gate { return c.gates[camera] }

// Observe checks a result of camera against the output rules; a matching
// result switches the outputs it matches on. It satisfies
// pipeline.Observer and does not keep r.
func (c *Controller) Observe(camera string, r *result.Result) {
	turnedOn := false
	c.mu.Lock()
	if !c.closed {
		now := c.clock.Now()
		for _, o := range c.outputs {
			if o.observe(camera, r, now) {
				turnedOn = true
				c.drive(o, "on", camera, r)
			}
		}
	}
	c.mu.Unlock()
	if turnedOn {
		select {
		case c.wake <- struct{}{}: // Run times the release
		default:
		}
	}
}

// drive writes o's state to its pin; a failure is logged, not fatal: a
// broken relay must not stop inference. The caller holds c.mu.
func (c *Controller) drive(o *output, state, camera string, r *result.Result) {
	attrs := []any{"field", o.field, "pin", o.pin.String(), "state", state}
	if r != nil {
		attrs = append(attrs, "camera", camera, "frame", r.Frame)
		if len(r.Labels) > 0 {
			attrs = append(attrs, "label", r.Labels[0].Label, "score", r.Labels[0].Score)
		}
	}
	if err := o.drive(); err != nil {
		c.log.Error("gpio output failed", append(attrs, "err", err)...)
		return
	}
	c.gauges.output.WithLabelValues(o.pin.Name()).Set(gauge(o.on))
	c.log.Info("gpio output", attrs...)
}

// event is a level read from input i.
type event struct {
	i     int
	level gpio.Level
}

// Run watches the inputs, releases outputs after their hold-off and blinks
// the status LED until ctx ends. It returns nil then.
func (c *Controller) Run(ctx context.Context) error {
	events := make(chan event)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, in := range c.inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watch(ctx, i, in.pin, events)
		}()
	}
	var ledTick <-chan time.Time
	if c.led != nil {
		t := c.clock.NewTicker(ledStep)
		defer t.Stop()
		ledTick = t.Chan()
	}
	start := c.clock.Now()
	c.blink(0)
	var due clockwork.Timer // the next debounce or release, stopped when superseded
	defer func() {
		if due != nil {
			due.Stop()
		}
	}()
	levels := int64(0) // levels observed since the last step
	for {
		now := c.clock.Now()
		if due != nil {
			due.Stop()
			due = nil
		}
		var timer <-chan time.Time
		if next, ok := c.step(now); ok {
			due = c.clock.NewTimer(next.Sub(now))
			timer = due.Chan()
		}
		c.handled.Add(levels)
		levels = 0
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			in := c.inputs[ev.i]
			in.deb.observe(ev.level == in.active, c.clock.Now())
			levels++
		case <-timer:
		case <-c.wake:
		case <-ledTick:
			c.blink(c.clock.Now().Sub(start))
		}
	}
}

// step settles debounced inputs into their gates and releases outputs
// that are due at now; it returns the next time something is due.
func (c *Controller) step(now time.Time) (next time.Time, ok bool) {
	earliest := func(t time.Time) {
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	for _, in := range c.inputs {
		if in.deb.settle(now) {
			for _, g := range in.gates {
				g.set(in.deb.stable)
			}
			c.gauges.input.WithLabelValues(in.pin.Name()).Set(gauge(in.deb.stable))
			c.log.Info("gpio input", "field", in.field, "pin", in.pin.String(), "active", in.deb.stable)
		}
		if t, pending := in.deb.deadline(); pending {
			earliest(t)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return next, ok
	}
	for _, o := range c.outputs {
		if o.release(now) {
			c.drive(o, "off", "", nil)
		}
		if o.on {
			earliest(o.offAt())
		}
	}
	return next, ok
}

// blink sets the status LED for the current health, elapsed into Run.
func (c *Controller) blink(elapsed time.Duration) {
	if c.led == nil {
		return
	}
	h := c.health.Health()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if h != c.led.health {
		c.log.Info("status led", "health", string(h))
		c.led.health = h
	}
	on := ledOn(h, elapsed)
	if on == c.led.on {
		return
	}
	if err := c.led.pin.Out(level(on, c.led.invert)); err != nil {
		c.log.Error("status led failed", "pin", c.led.pin.String(), "err", err)
		return
	}
	c.led.on = on
}

// watch sends input i's level on each change until ctx ends. It also reads
// the pin when no edge came for pollEvery, in case the driver missed one.
func watch(ctx context.Context, i int, pin gpio.PinIn, out chan<- event) {
	last := pin.Read()
	for ctx.Err() == nil {
		pin.WaitForEdge(pollEvery)
		l := pin.Read()
		if l == last {
			continue
		}
		last = l
		select {
		case out <- event{i: i, level: l}:
		case <-ctx.Done():
			return
		}
	}
}

// Close drives every output and the status LED to their inactive level.
// Outputs stay off afterwards, even if results still arrive. It is safe to
// call twice.
func (c *Controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, o := range c.outputs {
		o.on = false
		errs = append(errs, o.drive())
		c.gauges.output.WithLabelValues(o.pin.Name()).Set(0)
	}
	if c.led != nil {
		c.led.on = false
		if err := c.led.pin.Out(level(false, c.led.invert)); err != nil {
			errs = append(errs, fmt.Errorf("gpio.status_led.pin: drive pin %s: %w", c.led.pin, err))
		}
	}
	return errors.Join(errs...)
}
