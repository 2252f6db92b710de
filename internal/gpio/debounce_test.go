package gpio

import (
	"testing"
	"time"
)

// TestDebounce drives the debouncer with explicit times: a level is
// accepted only after staying put for the whole window.
func TestDebounce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		at     int   // ms after t0
		raw    *bool // level read then, nil: only settle
		stable bool  // accepted level after settling at that time
	}
	on, off := true, false
	for _, tc := range []struct {
		name   string
		window time.Duration
		steps  []step
	}{
		{"steady for the window", 50 * time.Millisecond, []step{
			{0, &on, false}, {49, nil, false}, {50, nil, true}, {200, nil, true},
		}},
		{"bounce restarts the window", 50 * time.Millisecond, []step{
			{0, &on, false}, {10, &off, false}, {20, &on, false}, {60, nil, false}, {69, nil, false}, {70, nil, true},
		}},
		{"glitch shorter than the window is ignored", 50 * time.Millisecond, []step{
			{0, &on, false}, {30, &off, false}, {100, nil, false}, {500, nil, false},
		}},
		{"release is debounced too", 20 * time.Millisecond, []step{
			{0, &on, false}, {20, nil, true}, {100, &off, true}, {119, nil, true}, {120, nil, false},
		}},
		{"zero window accepts at once", 0, []step{
			{0, &on, true}, {1, &off, false}, {2, &on, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDebouncer(tc.window, false)
			for _, s := range tc.steps {
				if s.raw != nil {
					d.observe(*s.raw, ms(s.at))
				}
				d.settle(ms(s.at))
				if d.stable != s.stable {
					t.Fatalf("at %dms: accepted level %v, want %v", s.at, d.stable, s.stable)
				}
			}
		})
	}
}

func TestDebounceDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := newDebouncer(30*time.Millisecond, false)
	if _, ok := d.deadline(); ok {
		t.Fatal("deadline pending with no change")
	}
	d.observe(true, t0)
	if dl, ok := d.deadline(); !ok || !dl.Equal(t0.Add(30*time.Millisecond)) {
		t.Fatalf("deadline %v %v, want %v", dl, ok, t0.Add(30*time.Millisecond))
	}
	if d.settle(t0.Add(29 * time.Millisecond)) {
		t.Fatal("settled before the window")
	}
	if !d.settle(t0.Add(30 * time.Millisecond)) {
		t.Fatal("did not settle at the window's end")
	}
	if _, ok := d.deadline(); ok {
		t.Fatal("deadline still pending after settling")
	}
}
