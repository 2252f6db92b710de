package publish

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
)

func lbl(index int, score float32) infer.Label {
	return infer.Label{Label: fmt.Sprintf("class%d", index), Index: index, Score: score}
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
		cfg   FilterConfig
		steps []step
	}{
		{"every publishes everything", FilterConfig{Mode: "every"},
			[]step{{1, 0, true}, {1, 0, true}, {2, 1, true}, {-1, 2, true}}},
		{"empty mode means every", FilterConfig{},
			[]step{{1, 0, true}, {1, 1, true}}},
		{"change without heartbeat never repeats", FilterConfig{Mode: "change"},
			[]step{{1, 0, true}, {1, 100, false}, {1, 10000, false}, {2, 10001, true}}},
		{"change to and from no label", FilterConfig{Mode: "change"},
			[]step{{-1, 0, true}, {-1, 1, false}, {3, 2, true}, {-1, 3, true}, {-1, 4, false}}},
		{"heartbeat counts from the last publish", FilterConfig{Mode: "change", Heartbeat: 10 * time.Second},
			[]step{{1, 0, true}, {2, 6, true}, {2, 15, false}, {2, 16, true}, {2, 25, false}, {2, 26, true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := NewFilter(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Unix(1000, 0)
			for i, s := range c.steps {
				r := result(uint64(i))
				if s.top >= 0 {
					r.Labels = []infer.Label{lbl(s.top, 0.9)}
				}
				if got := f.Accept(r, t0.Add(time.Duration(s.at)*time.Second)); got != s.want {
					t.Errorf("step %d (top %d at %ds): publish %v, want %v", i, s.top, s.at, got, s.want)
				}
			}
		})
	}
}

func TestNewFilterErrors(t *testing.T) {
	for _, cfg := range []FilterConfig{{Mode: "always"}, {Mode: "change", Heartbeat: -time.Second}} {
		if _, err := NewFilter(cfg); err == nil {
			t.Errorf("NewFilter(%+v) accepted a bad configuration", cfg)
		}
	}
}

// TestSmoothingMeans checks the smoothed scores against means computed by
// hand: a class missing from a result counts 0 there, and a result
// without labels still takes its place in the window.
func TestSmoothingMeans(t *testing.T) {
	cases := []struct {
		name  string
		cfg   FilterConfig
		input [][]infer.Label
		want  []infer.Label // after the last input
	}{
		{"window of 2 slides; as many labels as the result had", FilterConfig{Smoothing: 2},
			[][]infer.Label{{lbl(1, 0.9)}, {lbl(2, 0.8), lbl(1, 0.2)}, {lbl(2, 0.6), lbl(3, 0.4)}},
			[]infer.Label{lbl(2, 0.7), lbl(3, 0.2)}},
		{"window of 2 slides, top 3", FilterConfig{Smoothing: 2, TopK: 3},
			[][]infer.Label{{lbl(1, 0.9)}, {lbl(2, 0.8), lbl(1, 0.2)}, {lbl(2, 0.6), lbl(3, 0.4)}},
			[]infer.Label{lbl(2, 0.7), lbl(3, 0.2), lbl(1, 0.1)}},
		{"empty first result counts", FilterConfig{Smoothing: 2},
			[][]infer.Label{{}, {lbl(5, 0.9)}},
			[]infer.Label{lbl(5, 0.45)}},
		{"top-k after smoothing", FilterConfig{Smoothing: 3, TopK: 2},
			[][]infer.Label{{lbl(1, 0.3), lbl(2, 0.3), lbl(3, 0.3)}, {lbl(3, 0.6), lbl(1, 0.3)}, {lbl(2, 0.9)}},
			[]infer.Label{lbl(2, 0.4), lbl(3, 0.3)}},
		{"a class that left the window is gone", FilterConfig{Smoothing: 2},
			[][]infer.Label{{lbl(7, 1)}, {lbl(8, 1)}, {lbl(8, 1)}},
			[]infer.Label{lbl(8, 1)}},
		{"smoothing 1 leaves results alone", FilterConfig{Smoothing: 1},
			[][]infer.Label{{lbl(1, 0.9)}, {lbl(2, 0.6), lbl(1, 0.4)}},
			[]infer.Label{lbl(2, 0.6), lbl(1, 0.4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := NewFilter(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var r *Result
			for i, in := range c.input {
				r = result(uint64(i), append([]infer.Label(nil), in...)...)
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
	raw := [][]infer.Label{}
	for i := 0; i < 12; i++ {
		if i%2 == 0 {
			raw = append(raw, []infer.Label{lbl(1, 0.55), lbl(2, 0.45)})
		} else {
			raw = append(raw, []infer.Label{lbl(2, 0.50), lbl(1, 0.50)})
		}
	}
	for _, c := range []struct {
		smoothing, want int
	}{{1, 12}, {4, 1}} {
		f, err := NewFilter(FilterConfig{Mode: "change", Smoothing: c.smoothing})
		if err != nil {
			t.Fatal(err)
		}
		published := 0
		for i, l := range raw {
			if f.Accept(result(uint64(i), append([]infer.Label(nil), l...)...), time.Unix(int64(i), 0)) {
				published++
			}
		}
		if published != c.want {
			t.Errorf("smoothing %d: %d of 12 results published, want %d", c.smoothing, published, c.want)
		}
	}
}
