package decide

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
)

func lbl(index int, score float32) result.Label {
	return result.Label{Label: fmt.Sprintf("class%d", index), Index: index, Score: score}
}

// TestFilterDecisions feeds each configuration a sequence of top-1 labels
// (-1: a result with no label above the threshold) at given seconds and
// checks which are published.
func TestFilterDecisions(t *testing.T) {
	type step struct {
		top  int
		at   int // seconds
		want bool
	}
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"every publishes everything", Config{Mode: "every"},
			[]step{{1, 0, true}, {1, 0, true}, {2, 1, true}, {-1, 2, true}}},
		{"empty mode means every", Config{},
			[]step{{1, 0, true}, {1, 1, true}}},
		{"change without heartbeat never repeats", Config{Mode: "change"},
			[]step{{1, 0, true}, {1, 100, false}, {1, 10000, false}, {2, 10001, true}}},
		{"change to and from no label", Config{Mode: "change"},
			[]step{{-1, 0, true}, {-1, 1, false}, {3, 2, true}, {-1, 3, true}, {-1, 4, false}}},
		{"heartbeat counts from the last publish", Config{Mode: "change", Heartbeat: 10 * time.Second},
			[]step{{1, 0, true}, {2, 6, true}, {2, 15, false}, {2, 16, true}, {2, 25, false}, {2, 26, true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Unix(1000, 0)
			for i, s := range c.steps {
				r := mkResult(uint64(i))
				if s.top >= 0 {
					r.Labels = []result.Label{lbl(s.top, 0.9)}
				}
				if got := f.Accept(r, t0.Add(time.Duration(s.at)*time.Second)); got != s.want {
					t.Errorf("step %d (top %d at %ds): publish %v, want %v", i, s.top, s.at, got, s.want)
				}
			}
		})
	}
}

func TestNewFilterErrors(t *testing.T) {
	for _, cfg := range []Config{{Mode: "always"}, {Mode: "change", Heartbeat: -time.Second}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad configuration", cfg)
		}
	}
}

// TestSmoothingMeans checks the smoothed scores against means computed by
// hand: a class missing from a result counts 0 there, and a result
// without labels still takes its place in the window.
func TestSmoothingMeans(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		input [][]result.Label
		want  []result.Label // after the last input
	}{
		{"window of 2 slides; as many labels as the result had", Config{Smoothing: 2},
			[][]result.Label{{lbl(1, 0.9)}, {lbl(2, 0.8), lbl(1, 0.2)}, {lbl(2, 0.6), lbl(3, 0.4)}},
			[]result.Label{lbl(2, 0.7), lbl(3, 0.2)}},
		{"window of 2 slides, top 3", Config{Smoothing: 2, TopK: 3},
			[][]result.Label{{lbl(1, 0.9)}, {lbl(2, 0.8), lbl(1, 0.2)}, {lbl(2, 0.6), lbl(3, 0.4)}},
			[]result.Label{lbl(2, 0.7), lbl(3, 0.2), lbl(1, 0.1)}},
		{"empty first result counts", Config{Smoothing: 2},
			[][]result.Label{{}, {lbl(5, 0.9)}},
			[]result.Label{lbl(5, 0.45)}},
		{"top-k after smoothing", Config{Smoothing: 3, TopK: 2},
			[][]result.Label{{lbl(1, 0.3), lbl(2, 0.3), lbl(3, 0.3)}, {lbl(3, 0.6), lbl(1, 0.3)}, {lbl(2, 0.9)}},
			[]result.Label{lbl(2, 0.4), lbl(3, 0.3)}},
		{"a class that left the window is gone", Config{Smoothing: 2},
			[][]result.Label{{lbl(7, 1)}, {lbl(8, 1)}, {lbl(8, 1)}},
			[]result.Label{lbl(8, 1)}},
		{"smoothing 1 leaves results alone", Config{Smoothing: 1},
			[][]result.Label{{lbl(1, 0.9)}, {lbl(2, 0.6), lbl(1, 0.4)}},
			[]result.Label{lbl(2, 0.6), lbl(1, 0.4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var r *result.Result
			for i, in := range c.input {
				r = mkResult(uint64(i), append([]result.Label(nil), in...)...)
				f.Accept(r, time.Unix(int64(i), 0))
			}
			if len(r.Labels) != len(c.want) {
				t.Fatalf("labels %v, want %v", r.Labels, c.want)
			}
			for i, w := range c.want {
				g := r.Labels[i]
				if g.Index != w.Index || g.Label != w.Label || math.Abs(float64(g.Score-w.Score)) > 1e-5 {
					t.Errorf("label %d: %+v, want %+v (all: %v)", i, g, w, r.Labels)
				}
			}
		})
	}
}

// TestSmoothingStopsFlicker: a camera whose raw top-1 alternates between
// two close classes publishes once in change mode with smoothing, but at
// every flip without it.
func TestSmoothingStopsFlicker(t *testing.T) {
	raw := [][]result.Label{}
	for i := 0; i < 12; i++ {
		if i%2 == 0 {
			raw = append(raw, []result.Label{lbl(1, 0.55), lbl(2, 0.45)})
		} else {
			raw = append(raw, []result.Label{lbl(2, 0.50), lbl(1, 0.50)})
		}
	}
	for _, c := range []struct {
		smoothing, want int
	}{{1, 12}, {4, 1}} {
		f, err := New(Config{Mode: "change", Smoothing: c.smoothing})
		if err != nil {
			t.Fatal(err)
		}
		published := 0
		for i, l := range raw {
			if f.Accept(mkResult(uint64(i), append([]result.Label(nil), l...)...), time.Unix(int64(i), 0)) {
				published++
			}
		}
		if published != c.want {
			t.Errorf("smoothing %d: %d of 12 results published, want %d", c.smoothing, published, c.want)
		}
	}
}

func TestFilterChangeAndHeartbeat(t *testing.T) {
	f, err := New(Config{Mode: "change", Heartbeat: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	steps := []struct {
		top  int
		at   time.Duration
		want bool
	}{
		{1, 0, true}, {1, time.Second, false}, {2, 2 * time.Second, true}, {2, 5 * time.Second, false},
		{2, 12 * time.Second, true}, {2, 13 * time.Second, false}, {1, 14 * time.Second, true},
	}
	for i, s := range steps {
		got := f.Accept(mkResult(uint64(i), result.Label{Index: s.top, Score: 0.9}), t0.Add(s.at))
		if got != s.want {
			t.Errorf("step %d (top %d at %v): %v, want %v", i, s.top, s.at, got, s.want)
		}
	}
	if _, err := New(Config{Mode: "sometimes"}); err == nil {
		t.Error("bad mode accepted")
	}
}

func TestFilterSmoothing(t *testing.T) {
	f, _ := New(Config{Smoothing: 3})
	a := func(i int, s float32) result.Label {
		return result.Label{Label: string(rune('a' + i)), Index: i, Score: s}
	}
	seq := [][]result.Label{{a(0, 0.9), a(1, 0.1)}, {a(1, 0.6), a(0, 0.4)}, {a(0, 0.8), a(1, 0.2)}, {a(1, 0.7), a(0, 0.3)}}
	var tops []int
	var scores []float32
	for i, l := range seq {
		r := mkResult(uint64(i), l...)
		f.Accept(r, time.Now())
		tops = append(tops, r.Labels[0].Index)
		scores = append(scores, r.Labels[0].Score)
	}
	// Means: [0.9] → a; [0.65,0.35] → a; [0.7,0.3] → a; last three (0.4+0.8+0.3)/3=0.5 vs (0.6+0.2+0.7)/3=0.5 → tie, lower index a.
	want := []int{0, 0, 0, 0}
	for i := range want {
		if tops[i] != want[i] {
			t.Errorf("step %d: top %d (%.3f), want %d", i, tops[i], scores[i], want[i])
		}
	}
	if d := scores[1] - 0.65; d > 1e-5 || d < -1e-5 {
		t.Errorf("smoothed score %v, want 0.65", scores[1])
	}
}

func mkResult(frame uint64, labels ...result.Label) *result.Result {
	return &result.Result{Frame: frame, Captured: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC),
		Model: result.ModelRef{Name: "m", SHA256: "0123456789ab"}, Labels: labels}
}
