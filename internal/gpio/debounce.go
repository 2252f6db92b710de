package gpio

import "time"

// debouncer accepts a new input level only once the raw level has stayed
// there for the whole window, so contact bounce and short glitches never
// reach the gates. It is driven with explicit times, so tests need no
// clock and no sleeps.
type debouncer struct {
	window time.Duration
	stable bool      // accepted level: true is active
	raw    bool      // last level read from the pin
	since  time.Time // when raw last changed
}

func newDebouncer(window time.Duration, level bool) *debouncer {
	return &debouncer{window: window, stable: level, raw: level}
}

// observe records the raw level read at now.
func (d *debouncer) observe(level bool, now time.Time) {
	if level != d.raw {
		d.raw, d.since = level, now
	}
}

// settle accepts the raw level when it has been steady for the window; it
// reports whether the accepted level changed.
func (d *debouncer) settle(now time.Time) bool {
	if d.raw == d.stable || now.Sub(d.since) < d.window {
		return false
	}
	d.stable = d.raw
	return true
}

// deadline is when settle may next accept a change; ok is false when no
// change is pending.
func (d *debouncer) deadline() (t time.Time, ok bool) {
	if d.raw == d.stable {
		return time.Time{}, false
	}
	return d.since.Add(d.window), true
}
