package gpio

import (
	"time"

	"github.com/edged-io/edged/internal/result"
)

// HealthSource tells the status LED what to show.
type HealthSource interface {
	Health() result.Health
}

// HealthFunc adapts a function to HealthSource.
type HealthFunc func() result.Health

// Health calls f.
func (f HealthFunc) Health() result.Health { return f() }

// Blink half-periods: the LED is on for one half-period, then off for one.
const (
	slowBlink = 500 * time.Millisecond // degraded: 1 Hz
	fastBlink = 100 * time.Millisecond // failed: 5 Hz
	ledStep   = 50 * time.Millisecond  // how often the LED pattern is re-evaluated
)

// ledOn is the status LED's state for health h, elapsed time into the
// pattern.
func ledOn(h result.Health, elapsed time.Duration) bool {
	switch h {
	case result.Healthy:
		return true
	case result.Degraded:
		return (elapsed/slowBlink)%2 == 0
	default:
		return (elapsed/fastBlink)%2 == 0
	}
}
