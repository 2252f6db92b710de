package gpio

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/result"
)

func mkResult(labels ...result.Label) *result.Result {
	return &result.Result{Labels: labels}
}

func TestRuleMatch(t *testing.T) {
	person := result.Label{Label: "person", Score: 0.7}
	dog := result.Label{Label: "dog", Score: 0.4}
	for _, tc := range []struct {
		name   string
		rule   rule
		camera string
		res    *result.Result
		want   bool
	}{
		{"label in set above threshold", rule{labels: []string{"person", "car"}, minScore: 0.6}, "front", mkResult(person), true},
		{"label in set below threshold", rule{labels: []string{"person"}, minScore: 0.8}, "front", mkResult(person), false},
		{"score equal to threshold", rule{labels: []string{"person"}, minScore: 0.7}, "front", mkResult(person), true},
		{"label not in set", rule{labels: []string{"cat"}, minScore: 0.1}, "front", mkResult(person, dog), false},
		{"second label matches", rule{labels: []string{"dog"}, minScore: 0.3}, "front", mkResult(person, dog), true},
		{"any label", rule{minScore: 0.5}, "front", mkResult(dog, person), true},
		{"any label, none high enough", rule{minScore: 0.9}, "front", mkResult(dog, person), false},
		{"camera in set", rule{labels: []string{"person"}, cameras: []string{"back", "front"}}, "front", mkResult(person), true},
		{"camera not in set", rule{labels: []string{"person"}, cameras: []string{"back"}}, "front", mkResult(person), false},
		{"no labels", rule{}, "front", mkResult(), false},
	} {
		if got := tc.rule.match(tc.camera, tc.res); got != tc.want {
			t.Errorf("%s: match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestOutputTiming walks an output through matches and releases at
// explicit times: on at once, held for min_on, off hold_off after the last
// match.
func TestOutputTiming(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cfg := config.GPIOOutput{MinOn: 2 * time.Second, HoldOff: 500 * time.Millisecond,
		When: []config.GPIORule{{Labels: []string{"person"}, MinScore: 0.5}}}
	hit, miss := mkResult(result.Label{Label: "person", Score: 0.9}), mkResult(result.Label{Label: "person", Score: 0.2})
	type step struct {
		ms   int
		res  *result.Result // nil: only time passes
		want bool           // on after the step
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"min_on holds a short match", []step{
			{0, hit, true}, {600, nil, true}, {1999, nil, true}, {2000, nil, false},
		}},
		{"hold_off after the last match", []step{
			{0, hit, true}, {1800, hit, true}, {2200, miss, true}, {2299, nil, true}, {2300, nil, false},
		}},
		{"results that miss do not hold it", []step{
			{0, hit, true}, {1000, miss, true}, {1500, miss, true}, {2000, nil, false},
		}},
		{"on again after release", []step{
			{0, hit, true}, {2000, nil, false}, {2100, miss, false}, {2500, hit, true}, {4499, nil, true}, {4500, nil, false},
		}},
		{"never on without a match", []step{
			{0, miss, false}, {5000, nil, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutput("gpio.outputs[0]", &gpiotest.Pin{N: "GPIO27"}, cfg)
			for _, s := range tc.steps {
				if s.res != nil {
					o.observe("front", s.res, at(s.ms))
				}
				o.release(at(s.ms))
				if o.on != s.want {
					t.Fatalf("at %dms: on = %v, want %v", s.ms, o.on, s.want)
				}
			}
		})
	}
}

func TestOutputLevels(t *testing.T) {
	for _, tc := range []struct {
		on, invert bool
		want       gpio.Level
	}{
		{true, false, gpio.High}, {false, false, gpio.Low},
		{true, true, gpio.Low}, {false, true, gpio.High},
	} {
		pin := &gpiotest.Pin{N: "GPIO27"}
		o := &output{pin: pin, invert: tc.invert, on: tc.on}
		if err := o.drive(); err != nil {
			t.Fatal(err)
		}
		if got := pin.Read(); got != tc.want {
			t.Errorf("on=%v invert=%v: pin %v, want %v", tc.on, tc.invert, got, tc.want)
		}
	}
}
