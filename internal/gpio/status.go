package gpio

import "time"

// Health is the daemon's state as the status LED shows it.
type Health int

// The states the status LED distinguishes.
const (
	Healthy  Health = iota // steady on
	Degraded               // slow blink: running, but a camera or the broker is away
	Failed                 // fast blink: nothing can produce results
)

func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Degraded:
		return "degraded"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// HealthSource tells the status LED what to show.
type HealthSource interface {
	Health() Health
}

// HealthFunc adapts a function to HealthSource.
type HealthFunc func() Health

// Health calls f.
func (f HealthFunc) Health() Health { return f() }

// Blink half-periods: the LED is on for one half-period, then off for one.
const (
	slowBlink = 500 * time.Millisecond // degraded: 1 Hz
	fastBlink = 100 * time.Millisecond // failed: 5 Hz
	ledStep   = 50 * time.Millisecond  // how often the LED pattern is re-evaluated
)

// ledOn is the status LED's state for health h, elapsed time into the
// pattern.
func ledOn(h Health, elapsed time.Duration) bool {
	switch h {
	case Healthy:
		return true
	case Degraded:
		return (elapsed/slowBlink)%2 == 0
	default:
		return (elapsed/fastBlink)%2 == 0
	}
}
