package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestLimits: values that would wrap or overflow where they are used (the
// keep-alive's 16-bit field, a topic's length, a rate cap's period) are
// errors naming the field, in files and in quick mode alike.
func TestLimits(t *testing.T) {
	long := strings.Repeat("c", MaxNameLen+1)
	for _, tc := range []struct {
		name, yaml, field string
	}{
		{"keepalive past 16 bits", "broker: {keepalive: 65536s}\n" + cam, "broker.keepalive"},
		{"long camera name", "cameras:\n  - {name: " + long + ", source: x}\n", "cameras[0].name"},
		{"long device", "device: " + long + "\n" + cam, "device"},
		{"long model name", "models:\n  - {name: " + long + "}\n" + cam, "models[0].name"},
		{"long topic prefix", "broker: {topic_prefix: " + strings.Repeat("p", MaxTopicPrefixLen+1) + "}\n" + cam, "broker.topic_prefix"},
		{"fps whose period overflows", "cameras:\n  - {name: a, source: x, fps: 1e-10}\n", "cameras[0].fps"},
		{"fps above the cap's range", "cameras:\n  - {name: a, source: x, fps: 5000}\n", "cameras[0].fps"},
	} {
		_, err := Parse([]byte(tc.yaml), "t.yaml")
		var e *Error
		if !errors.As(err, &e) || e.Field != tc.field {
			t.Errorf("%s: %v, want an error at %s", tc.name, err, tc.field)
		}
	}
	if _, err := Parse([]byte("broker: {keepalive: 65535s}\ncameras:\n  - {name: a, source: x, fps: 0.5}\n"), "t.yaml"); err != nil {
		t.Errorf("the largest keep-alive and a slow cap: %v", err)
	}
}

// TestQuickModeValuesChecked: flags go through the same validation as
// files; NaN and infinities, which YAML cannot even spell for these
// fields, are refused too.
func TestQuickModeValuesChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"fps NaN", func(c *Config) { c.Cameras[0].FPS = math.NaN() }, "cameras[0].fps"},
		{"fps +Inf", func(c *Config) { c.Cameras[0].FPS = math.Inf(1) }, "cameras[0].fps"},
		{"fps 1e-10", func(c *Config) { c.Cameras[0].FPS = 1e-10 }, "cameras[0].fps"},
		{"threshold NaN", func(c *Config) { c.Models[0].Threshold = math.NaN() }, "models[0].threshold"},
		{"keepalive 65536s", func(c *Config) { c.Broker.KeepAlive = 65536 * time.Second }, "broker.keepalive"},
	} {
		c := Defaults()
		c.Cameras = []Camera{NewCamera("cam0", "x")}
		tc.mod(c)
		var e *Error
		if err := c.Validate(); !errors.As(err, &e) || e.Field != tc.field {
			t.Errorf("%s: %v, want an error at %s", tc.name, err, tc.field)
		}
	}
}
