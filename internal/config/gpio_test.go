package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestGPIOErrors checks each check of the gpio section: field path, line
// and message.
func TestGPIOErrors(t *testing.T) {
	in := "gpio:\n  inputs:\n    - pin: GPIO17\n      cameras: [a]\n" // lines 4-7
	out := "gpio:\n  outputs:\n    - pin: GPIO27\n      when:\n"      // lines 4-7
	cases := []struct {
		name  string
		yaml  string
		field string
		line  int
		msg   string
	}{
		{"unknown key", in + "      edge: rising\n", "gpio.inputs[0].edge", 8, `unknown key "edge"`},
		{"input pin empty", "gpio:\n  inputs:\n    - cameras: [a]\n", "gpio.inputs[0].pin", 6, "is empty: name the pin"},
		{"active", in + "      active: on\n", "gpio.inputs[0].active", 8, `"on" is not one of high, low`},
		{"pull", in + "      pull: strong\n", "gpio.inputs[0].pull", 8, `"strong" is not one of auto, up, down, float`},
		{"mode", in + "      mode: once\n", "gpio.inputs[0].mode", 8, `"once" is not one of while_active, burst`},
		{"burst frames", in + "      mode: burst\n      burst_frames: 0\n", "gpio.inputs[0].burst_frames", 9, "0 is less than 1"},
		{"debounce negative", in + "      debounce: -5ms\n", "gpio.inputs[0].debounce", 8, `"-5ms" is not a duration`},
		{"no cameras", "gpio:\n  inputs:\n    - pin: GPIO17\n", "gpio.inputs[0].cameras", 6, "is empty: name the cameras"},
		{"unknown camera", "gpio:\n  inputs:\n    - pin: GPIO17\n      cameras: [a, b]\n", "gpio.inputs[0].cameras[1]", 7, `no camera named "b"`},
		{"camera gated twice", in + "    - pin: GPIO22\n      cameras: [a]\n", "gpio.inputs[1].cameras[0]", 9, `camera "a" is already gated by gpio.inputs[0]`},
		{"pin twice", in + "  outputs:\n    - pin: GPIO17\n      when: [{labels: [person]}]\n", "gpio.outputs[0].pin", 9, `pin "GPIO17" is already used by gpio.inputs[0].pin`},
		{"status led on an input pin", in + "  status_led: {pin: GPIO17}\n", "gpio.status_led.pin", 8, "already used"},
		{"output without rules", "gpio:\n  outputs:\n    - pin: GPIO27\n", "gpio.outputs[0].when", 6, "give at least one rule"},
		{"min score", out + "        - min_score: 1.5\n", "gpio.outputs[0].when[0].min_score", 8, "1.5 is not between 0 and 1"},
		{"empty label", out + "        - labels: ['']\n", "gpio.outputs[0].when[0].labels[0]", 8, "is empty"},
		{"rule camera", out + "        - cameras: [z]\n", "gpio.outputs[0].when[0].cameras[0]", 8, `no camera named "z"`},
		{"min_on not a duration", out + "        - labels: [cat]\n      min_on: 2\n", "gpio.outputs[0].min_on", 9, `"2" is not a duration`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(cam+c.yaml), "t.yaml")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if ce.Field != c.field || ce.Line != c.line || !strings.Contains(ce.Msg, c.msg) {
				t.Errorf("got field %q line %d msg %q;\nwant field %q line %d msg containing %q", ce.Field, ce.Line, ce.Msg, c.field, c.line, c.msg)
			}
		})
	}
}

func TestGPIODefaults(t *testing.T) {
	c, err := Parse([]byte(cam+"gpio:\n  inputs:\n    - pin: GPIO17\n      cameras: [a]\n  outputs:\n    - pin: GPIO27\n      when:\n        - labels: [person]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, out := c.GPIO.Inputs[0], c.GPIO.Outputs[0]
	if in.Active != "high" || in.Pull != "auto" || in.Debounce != 50*time.Millisecond || in.Mode != "while_active" || in.BurstFrames != 10 {
		t.Errorf("input defaults %+v", in)
	}
	if out.MinOn != time.Second || out.HoldOff != 3*time.Second || out.Invert || out.When[0].MinScore != 0.5 {
		t.Errorf("output defaults %+v", out)
	}
	if !c.GPIO.Enabled() {
		t.Error("a gpio section with pins is not enabled")
	}
	if Defaults().GPIO.Enabled() {
		t.Error("the defaults configure GPIO pins")
	}
}
