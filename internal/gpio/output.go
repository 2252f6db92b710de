package gpio

import (
	"fmt"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/result"
)

// rule matches results: a label in labels (any when empty) scoring at
// least minScore, from one of cameras (any when empty).
type rule struct {
	labels   []string
	minScore float32
	cameras  []string
}

func (r rule) match(camera string, res *result.Result) bool {
	if len(r.cameras) > 0 && !slices.Contains(r.cameras, camera) {
		return false
	}
	for _, l := range res.Labels {
		if l.Score >= r.minScore && (len(r.labels) == 0 || slices.Contains(r.labels, l.Label)) {
			return true
		}
	}
	return false
}

// output drives one pin from results: on at the first matching result,
// kept on for at least minOn, and off once no result matched for holdOff.
// Its methods take explicit times; the controller serialises them.
type output struct {
	field   string // config path, for errors and logs
	pin     gpio.PinOut
	invert  bool
	minOn   time.Duration
	holdOff time.Duration
	rules   []rule

	on        bool
	onSince   time.Time
	lastMatch time.Time
}

func newOutput(field string, pin gpio.PinOut, c config.GPIOOutput) *output {
	o := &output{field: field, pin: pin, invert: c.Invert, minOn: c.MinOn, holdOff: c.HoldOff}
	for _, r := range c.When {
		o.rules = append(o.rules, rule{labels: r.Labels, minScore: float32(r.MinScore), cameras: r.Cameras})
	}
	return o
}

// observe takes one result at now; it reports whether the output turned on.
func (o *output) observe(camera string, res *result.Result, now time.Time) bool {
	for _, r := range o.rules {
		if r.match(camera, res) {
			o.lastMatch = now
			if !o.on {
				o.on, o.onSince = true, now
				return true
			}
			return false
		}
	}
	return false
}

// release turns the output off when both its minimum on time and its
// hold-off have passed; it reports whether it did.
func (o *output) release(now time.Time) bool {
	if !o.on || now.Before(o.offAt()) {
		return false
	}
	o.on = false
	return true
}

// offAt is the earliest time an output that is on may turn off.
func (o *output) offAt() time.Time {
	t := o.lastMatch.Add(o.holdOff)
	if m := o.onSince.Add(o.minOn); m.After(t) {
		t = m
	}
	return t
}

// drive writes the output's current state to its pin.
func (o *output) drive() error {
	if err := o.pin.Out(level(o.on, o.invert)); err != nil {
		return fmt.Errorf("%s: drive pin %s: %w", o.field, o.pin, err)
	}
	return nil
}

// level is the pin level for a logical state: high for on, unless inverted
// (active-low relays and LEDs wired to the supply).
func level(on, invert bool) gpio.Level {
	return gpio.Level(on != invert)
}
