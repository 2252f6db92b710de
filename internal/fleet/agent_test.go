package fleet

import (
	"strings"
	"testing"
	"time"
)

func TestDegraded(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// Before the swap: 100 s of uptime at 10 frames/s, no failures.
	swapped := start.Add(100 * time.Second)
	before := Counters{Frames: 1000, Live: true, Since: start}
	const window = 60 * time.Second // a quarter is 15 s

	// after returns the counters frames and failed past before, at live.
	after := func(frames, failed uint64, live bool) Counters {
		return Counters{Frames: before.Frames + frames, Failed: before.Failed + failed, Live: live, Since: start}
	}
	cases := []struct {
		name   string
		before Counters
		now    Counters
		at     time.Duration // since the swap
		window time.Duration
		want   string // "" for healthy, else a part of the reason
	}{
		{"healthy", before, after(200, 0, true), 20 * time.Second, window, ""},
		{"stalled", before, Counters{Frames: 1200, Live: true, Since: start, Stalled: []string{"camera front", "publish mqtt"}}, 20 * time.Second, window, "stalled: camera front; publish mqtt"},
		{"stalled at once", before, Counters{Frames: 1000, Live: true, Stalled: []string{"infer"}}, time.Second, window, "stalled: infer"},
		{"failures above 5%", before, after(100, 10, true), 20 * time.Second, window, "10 of 110 crops failed"},
		{"failures only", before, after(0, 3, true), time.Second, window, "3 of 3 crops failed"},
		{"failures just above 5%", before, after(940, 60, true), 20 * time.Second, window, "60 of 1000 crops failed"},
		{"a few failures under 5%", before, after(1000, 10, true), 20 * time.Second, window, ""},
		{"failures at 5% exactly", before, after(950, 50, true), 20 * time.Second, window, ""},
		{"failures near the old ratio", Counters{Frames: 900, Failed: 100, Live: true, Since: start}, Counters{Frames: 1800, Failed: 215, Live: true, Since: start}, 20 * time.Second, window, ""},
		{"failures twice the old ratio", Counters{Frames: 900, Failed: 100, Live: true, Since: start}, Counters{Frames: 1800, Failed: 350, Live: true, Since: start}, 20 * time.Second, window, "250 of 1150 crops failed"},
		{"rate below half after a quarter", before, after(60, 0, true), 20 * time.Second, window, "3.0 frames/s since the swap, 10.0 before"},
		{"rate stopped", before, after(0, 0, true), 16 * time.Second, window, "0.0 frames/s"},
		{"rate just above half", before, after(110, 0, true), 20 * time.Second, window, ""},
		{"rate not live now", before, after(0, 0, false), 30 * time.Second, window, ""},
		{"rate not live before", Counters{Frames: 1000, Since: start}, after(0, 0, true), 30 * time.Second, window, ""},
		{"rate too early", before, after(10, 0, true), 14 * time.Second, window, ""},
		{"rate under 2 s in a short window", before, after(0, 0, true), 1500 * time.Millisecond, 4 * time.Second, ""},
		{"rate after 2 s in a short window", before, after(0, 0, true), 2 * time.Second, 4 * time.Second, "0.0 frames/s"},
		{"rate with a short uptime before", Counters{Frames: 1000, Live: true, Since: swapped.Add(-4 * time.Second)}, after(0, 0, true), 30 * time.Second, window, ""},
		{"rate with few frames before", Counters{Frames: 9, Live: true, Since: start}, Counters{Frames: 9, Live: true, Since: start}, 30 * time.Second, window, ""},
		{"no window", before, after(0, 0, true), 3 * time.Second, 0, "0.0 frames/s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := degraded(c.before, c.now, swapped, swapped.Add(c.at), c.window)
			switch {
			case c.want == "" && got != "":
				t.Errorf("degraded: %q; want healthy", got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Errorf("degraded: %q; want a reason with %q", got, c.want)
			}
		})
	}
}
