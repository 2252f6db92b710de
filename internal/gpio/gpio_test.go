package gpio

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/result"
)

var quiet = slog.New(slog.DiscardHandler)

// board is a set of gpiotest pins by name, standing in for gpioreg.
type board map[string]*gpiotest.Pin

func (b board) lookup(name string) gpio.PinIO {
	if p, ok := b[name]; ok {
		return p
	}
	return nil
}

func newBoard(names ...string) board {
	b := board{}
	for i, n := range names {
		b[n] = &gpiotest.Pin{N: n, Num: i, EdgesChan: make(chan gpio.Level)}
	}
	return b
}

// run starts c.Run and returns a function that stops it and waits.
func run(t *testing.T, c *Controller) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// eventually waits for cond, which another goroutine makes true; it fails
// with what after 10 seconds. It asserts an outcome, not a speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waiters waits until the fake clock has n timers or tickers, that is until
// Run has handled what came before and set its next deadline.
func waiters(t *testing.T, fc *clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

func inputCfg(pin string, cameras ...string) config.GPIOInput {
	return config.GPIOInput{Pin: pin, Active: "high", Pull: "auto", Debounce: 50 * time.Millisecond, Cameras: cameras, Mode: "while_active", BurstFrames: 10}
}

func personRule() []config.GPIORule {
	return []config.GPIORule{{Labels: []string{"person"}, MinScore: 0.5}}
}

func TestNewMissingPin(t *testing.T) {
	b := newBoard("GPIO17", "GPIO27")
	for _, tc := range []struct {
		cfg  config.GPIO
		want []string
	}{
		{config.GPIO{Inputs: []config.GPIOInput{inputCfg("GPIO4", "front")}}, []string{"gpio.inputs[0].pin", `"GPIO4"`}},
		{config.GPIO{Inputs: []config.GPIOInput{inputCfg("GPIO17", "front")},
			Outputs: []config.GPIOOutput{{Pin: "GPIO27", When: personRule()}, {Pin: "GPIO99", When: personRule()}}},
			[]string{"gpio.outputs[1].pin", `"GPIO99"`}},
		{config.GPIO{StatusLED: config.StatusLED{Pin: "LED0"}}, []string{"gpio.status_led.pin", `"LED0"`}},
	} {
		c, err := New(tc.cfg, Options{Log: quiet, Lookup: b.lookup})
		if err == nil {
			c.Close()
			t.Errorf("%+v: no error for a missing pin", tc.cfg)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not name %s", err, w)
			}
		}
	}
}

// TestNewSamePinTwice: two names of one pin are one pin.
func TestNewSamePinTwice(t *testing.T) {
	b := newBoard("GPIO17")
	b["17"] = b["GPIO17"]
	_, err := New(config.GPIO{Inputs: []config.GPIOInput{inputCfg("GPIO17", "front")},
		Outputs: []config.GPIOOutput{{Pin: "17", When: personRule()}}}, Options{Log: quiet, Lookup: b.lookup})
	if err == nil || !strings.Contains(err.Error(), "gpio.outputs[0].pin") || !strings.Contains(err.Error(), "gpio.inputs[0].pin") {
		t.Fatalf("got %v, want an error naming both fields", err)
	}
}

func TestNewSetsUpPins(t *testing.T) {
	b := newBoard("PIR", "DOOR", "BTN", "RELAY", "LED", "STATUS")
	b["RELAY"].L = gpio.High // whatever the pins held before edged
	b["LED"].L = gpio.High
	door := inputCfg("DOOR", "back")
	door.Active = "low"
	btn := inputCfg("BTN", "side")
	btn.Pull = "float"
	c, err := New(config.GPIO{
		Inputs:    []config.GPIOInput{inputCfg("PIR", "front"), door, btn},
		Outputs:   []config.GPIOOutput{{Pin: "RELAY", Invert: true, When: personRule()}, {Pin: "LED", When: personRule()}},
		StatusLED: config.StatusLED{Pin: "STATUS", Invert: true},
	}, Options{Log: quiet, Lookup: b.lookup})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, want := range map[string]gpio.Pull{"PIR": gpio.PullDown, "DOOR": gpio.PullUp, "BTN": gpio.Float} {
		if got := b[name].Pull(); got != want {
			t.Errorf("%s: pull %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]gpio.Level{"RELAY": gpio.High, "LED": gpio.Low, "STATUS": gpio.High} {
		if got := b[name].Read(); got != want {
			t.Errorf("%s: %v at start, want %v (inactive)", name, got, want)
		}
	}
	// The door rests high (pulled up) and is active low: it starts closed.
	if c.Gate("back").Allow() || c.Gate("front").Allow() {
		t.Error("a gate is open while its input rests inactive")
	}
	if c.Gate("nowhere") != nil {
		t.Error("an ungated camera has a gate")
	}
}

// TestInputGatesCamera runs the controller on a fake clock: an edge opens
// the camera's gate only once the level held for the debounce window, and
// a bounce starts the window over.
func TestInputGatesCamera(t *testing.T) {
	b := newBoard("PIR")
	fc := clockwork.NewFakeClock()
	c, err := New(config.GPIO{Inputs: []config.GPIOInput{inputCfg("PIR", "front")}}, Options{Log: quiet, Lookup: b.lookup, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g := c.Gate("front")
	run(t, c)
	pushed := int64(0)
	push := func(l gpio.Level) { // a level change, once Run has handled it
		t.Helper()
		b["PIR"].EdgesChan <- l
		pushed++
		eventually(t, "Run to handle the edge", func() bool { return c.handled.Load() == pushed })
	}

	// A glitch while closed: high for 20ms only.
	push(gpio.High)
	fc.Advance(20 * time.Millisecond)
	push(gpio.Low)
	fc.Advance(time.Second)
	if g.Allow() {
		t.Fatal("a 20ms glitch opened the gate")
	}

	push(gpio.High)
	fc.Advance(49 * time.Millisecond)
	if g.Allow() {
		t.Fatal("gate open before the debounce window passed")
	}
	fc.Advance(time.Millisecond)
	eventually(t, "the gate to open 50ms after the edge", g.Allow)
	eventually(t, "edged_gpio_input_active 1", func() bool { return testutil.ToFloat64(c.gauges.input.WithLabelValues("PIR")) == 1 })
	// A bounce: low for 20ms, then high again. The gate stays open, and the
	// release that follows is debounced too.
	push(gpio.Low)
	fc.Advance(20 * time.Millisecond)
	push(gpio.High) // back at the accepted level: nothing pending
	fc.Advance(time.Second)
	if !g.Allow() {
		t.Fatal("a 20ms glitch closed the gate")
	}
	push(gpio.Low)
	fc.Advance(49 * time.Millisecond)
	if !g.Allow() {
		t.Fatal("gate closed before the debounce window passed")
	}
	fc.Advance(time.Millisecond)
	eventually(t, "the gate to close 50ms after the release", func() bool { return !g.Allow() })
}

func TestInputBurst(t *testing.T) {
	b := newBoard("BTN")
	fc := clockwork.NewFakeClock()
	in := inputCfg("BTN", "front", "back")
	in.Mode, in.BurstFrames, in.Debounce = "burst", 3, 0
	c, err := New(config.GPIO{Inputs: []config.GPIOInput{in}}, Options{Log: quiet, Lookup: b.lookup, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run(t, c)
	b["BTN"].EdgesChan <- gpio.High
	front, back := c.Gate("front"), c.Gate("back")
	eventually(t, "a burst to start", func() bool { return back.left.Load() == 3 })
	if got := allowed(front, 10); got != 3 {
		t.Errorf("front: %d frames of the burst, want 3", got)
	}
	if got := allowed(back, 2); got != 2 {
		t.Errorf("back: %d frames, want 2 (each camera has its own burst)", got)
	}
}

// TestOutputFollowsResults: a matching result switches the relay on at
// once; it goes off hold_off after the last match (min_on passed), and
// Close leaves it off.
func TestOutputFollowsResults(t *testing.T) {
	b := newBoard("RELAY", "LED")
	fc := clockwork.NewFakeClock()
	c, err := New(config.GPIO{Outputs: []config.GPIOOutput{
		{Pin: "RELAY", Invert: true, MinOn: 100 * time.Millisecond, HoldOff: time.Second, When: personRule()},
		{Pin: "LED", MinOn: 0, HoldOff: 200 * time.Millisecond, When: []config.GPIORule{{Labels: []string{"dog"}, MinScore: 0.5, Cameras: []string{"back"}}}},
	}}, Options{Log: quiet, Lookup: b.lookup, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	relay, led := b["RELAY"], b["LED"]
	run(t, c)
	c.Observe("front", mkResult(result.Label{Label: "person", Score: 0.8}))
	if relay.Read() != gpio.Low || led.Read() != gpio.Low {
		t.Fatalf("after a person: relay %v (want low: inverted on), led %v (want low)", relay.Read(), led.Read())
	}
	c.Observe("front", mkResult(result.Label{Label: "dog", Score: 0.9})) // the LED's rule is for camera back
	if led.Read() != gpio.Low {
		t.Fatal("LED on for a dog on the wrong camera")
	}
	waiters(t, fc, 1)
	fc.Advance(999 * time.Millisecond)
	if relay.Read() != gpio.Low {
		t.Fatal("relay released before hold_off")
	}
	fc.Advance(time.Millisecond)
	eventually(t, "the relay to release", func() bool { return relay.Read() == gpio.High })

	c.Observe("back", mkResult(result.Label{Label: "dog", Score: 0.9}))
	if led.Read() != gpio.High {
		t.Fatal("LED not on for a dog on camera back")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if led.Read() != gpio.Low || relay.Read() != gpio.High {
		t.Errorf("after Close: led %v relay %v, want both inactive (low, high)", led.Read(), relay.Read())
	}
	c.Observe("front", mkResult(result.Label{Label: "person", Score: 0.8}))
	if relay.Read() != gpio.High {
		t.Error("relay switched on after Close")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStatusLED(t *testing.T) {
	b := newBoard("STATUS")
	fc := clockwork.NewFakeClock()
	var h atomic.Value // result.Health
	h.Store(result.Healthy)
	c, err := New(config.GPIO{StatusLED: config.StatusLED{Pin: "STATUS"}},
		Options{Log: quiet, Lookup: b.lookup, Clock: fc, Health: HealthFunc(func() result.Health { return h.Load().(result.Health) })})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	led := b["STATUS"]
	run(t, c)
	eventually(t, "the LED on when healthy", func() bool { return led.Read() == gpio.High })
	level := func(want gpio.Level, what string) {
		t.Helper()
		eventually(t, what, func() bool { return led.Read() == want })
	}
	waiters(t, fc, 1) // the LED ticker
	h.Store(result.Unhealthy)
	// Fast blink: 100ms on, 100ms off, counted from Run's start.
	fc.Advance(100 * time.Millisecond)
	level(gpio.Low, "fast blink off at 100ms")
	fc.Advance(100 * time.Millisecond)
	level(gpio.High, "fast blink on at 200ms")
	h.Store(result.Degraded)
	fc.Advance(300 * time.Millisecond)
	level(gpio.Low, "slow blink off at 500ms")
	fc.Advance(500 * time.Millisecond)
	level(gpio.High, "slow blink on at 1s")
	fc.Advance(500 * time.Millisecond)
	level(gpio.Low, "slow blink off at 1.5s")
	h.Store(result.Healthy)
	fc.Advance(50 * time.Millisecond) // a blinking LED would stay off until 2s
	level(gpio.High, "steady on once healthy again")
	c.Close()
	if led.Read() != gpio.Low {
		t.Error("LED on after Close")
	}
}
