package camera

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestNextLeadTracksTheMedian: the lead climbs while most frames are late,
// sinks to zero while most are early, hovers where half are, and one late
// frame moves it by a step, not by doubling.
func TestNextLeadTracksTheMedian(t *testing.T) {
	run := func(pLate float64, from time.Duration) time.Duration {
		r := rand.New(rand.NewPCG(1, 2))
		lead := from
		for range 2000 {
			lead = nextLead(lead, r.Float64() < pLate)
		}
		return lead
	}
	if got := run(0.8, 0); got < 10*time.Millisecond {
		t.Errorf("80%% late: lead %v, want it to have climbed (≥ 10ms)", got)
	}
	if got := run(0.2, 5*time.Millisecond); got != 0 {
		t.Errorf("20%% late: lead %v, want 0", got)
	}
	if got := run(0.5, 2*time.Millisecond); got > 8*time.Millisecond {
		t.Errorf("50%% late: lead %v, want it to stay near where it was", got)
	}
	if got := nextLead(3*time.Millisecond, true); got != 3100*time.Microsecond {
		t.Errorf("one late frame at 3ms: %v, want 3.1ms", got)
	}
	if got := nextLead(20*time.Millisecond, true); got != 20*time.Millisecond {
		t.Errorf("at the cap: %v, want 20ms", got)
	}
}
