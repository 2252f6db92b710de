package gpio

import "testing"

func allowed(g *Gate, frames int) int {
	n := 0
	for i := 0; i < frames; i++ {
		if g.Allow() {
			n++
		}
	}
	return n
}

func TestGateWhileActive(t *testing.T) {
	g := &Gate{}
	if got := allowed(g, 5); got != 0 {
		t.Fatalf("inactive: %d of 5 frames allowed, want 0", got)
	}
	g.set(true)
	if got := allowed(g, 5); got != 5 {
		t.Fatalf("active: %d of 5 frames allowed, want 5", got)
	}
	g.set(false)
	if got := allowed(g, 5); got != 0 {
		t.Fatalf("inactive again: %d of 5 frames allowed, want 0", got)
	}
}

func TestGateBurst(t *testing.T) {
	g := &Gate{burst: 3}
	if got := allowed(g, 5); got != 0 {
		t.Fatalf("before a trigger: %d frames allowed, want 0", got)
	}
	g.set(true)
	if got := allowed(g, 2); got != 2 {
		t.Fatalf("burst: %d of the first 2 frames allowed, want 2", got)
	}
	g.set(true) // still active: not a new edge
	if got := allowed(g, 5); got != 1 {
		t.Fatalf("rest of the burst: %d frames allowed, want 1 (3 per trigger)", got)
	}
	g.set(false)
	g.set(true) // a new rising edge starts a new burst
	if got := allowed(g, 10); got != 3 {
		t.Fatalf("second burst: %d frames allowed, want 3", got)
	}
	g.set(false)
	if got := allowed(g, 5); got != 0 {
		t.Fatalf("after the burst: %d frames allowed, want 0", got)
	}
}

// TestGateBurstRetrigger: a trigger during a burst starts it over instead
// of adding frames up.
func TestGateBurstRetrigger(t *testing.T) {
	g := &Gate{burst: 4}
	g.set(true)
	allowed(g, 3)
	g.set(false)
	g.set(true)
	if got := allowed(g, 10); got != 4 {
		t.Fatalf("retriggered burst: %d frames allowed, want 4", got)
	}
}
