// Package decide is the pipeline's decide stage: per camera, it smooths
// scores over the last results so that labels do not flicker, and decides
// which results are published (every one, or only changes of the top
// label with a heartbeat).
package decide

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// Modes are the values of Config.Mode (publish.mode in the configuration).
var Modes = []string{"every", "change"}

// Config says which results of a camera are published.
type Config struct {
	Mode      string        // "every" (default) or "change": only when the top-1 label changes
	Heartbeat time.Duration // with "change": re-publish the current label this often
	Smoothing int           // average scores over the last N results (1 = off)
	TopK      int           // labels kept after smoothing (default: as many as given)
}

// Filter decides, per camera, which results are published, and smooths
// scores so that labels do not flicker. It is not safe for concurrent use.
type Filter struct {
	cfg     Config
	history [][]result.Label
	next    int
	filled  int // results in history, up to len(history)
	sums    map[int]*smoothed
	last    int // top-1 index last published; -2 = nothing yet
	lastAt  time.Time
	out     []result.Label
}

type smoothed struct {
	label string
	sum   float32
}

// New checks the configuration.
func New(cfg Config) (*Filter, error) {
	if cfg.Mode == "" {
		cfg.Mode = "every"
	}
	if !slices.Contains(Modes, cfg.Mode) {
		return nil, fmt.Errorf("publish mode %q: want every or change", cfg.Mode)
	}
	if cfg.Smoothing <= 0 {
		cfg.Smoothing = 1
	}
	if cfg.Heartbeat < 0 {
		return nil, fmt.Errorf("heartbeat %v is negative", cfg.Heartbeat)
	}
	f := &Filter{cfg: cfg, last: -2, sums: map[int]*smoothed{}}
	if cfg.Smoothing > 1 {
		f.history = make([][]result.Label, cfg.Smoothing)
	}
	return f, nil
}

// Accept smooths r's labels (replacing r.Labels when smoothing is on) and
// reports whether r should be published at time now.
func (f *Filter) Accept(r *result.Result, now time.Time) bool {
	if f.history != nil {
		r.Labels = append(r.Labels[:0], f.smooth(r.Labels)...)
	}
	top := -1
	if len(r.Labels) > 0 {
		top = r.Labels[0].Index
	}
	publish := f.cfg.Mode == "every" || top != f.last ||
		(f.cfg.Heartbeat > 0 && now.Sub(f.lastAt) >= f.cfg.Heartbeat)
	if publish {
		f.last, f.lastAt = top, now
	}
	return publish
}

// smooth keeps the last N label lists and returns the labels ranked by
// their mean score over them (a label absent from a list counts 0 there).
// The returned slice is the filter's own, valid until the next call.
func (f *Filter) smooth(labels []result.Label) []result.Label {
	old := f.history[f.next]
	for _, l := range old {
		if s := f.sums[l.Index]; s != nil {
			s.sum -= l.Score
		}
	}
	f.history[f.next] = append(old[:0], labels...)
	f.next = (f.next + 1) % len(f.history)
	if f.filled < len(f.history) {
		f.filled++ // a result without labels counts too: it scores 0 everywhere
	}
	for _, l := range labels {
		s := f.sums[l.Index]
		if s == nil {
			s = &smoothed{label: l.Label}
			f.sums[l.Index] = s
		}
		s.sum += l.Score
	}
	n := float32(f.filled)
	out := f.out[:0]
	for idx, s := range f.sums {
		if s.sum <= 1e-6 {
			delete(f.sums, idx)
			continue
		}
		out = append(out, result.Label{Label: s.label, Index: idx, Score: s.sum / n})
	}
	slices.SortFunc(out, func(a, b result.Label) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.Index, b.Index)
	})
	k := len(labels)
	if f.cfg.TopK > 0 {
		k = f.cfg.TopK
	}
	if len(out) > k {
		out = out[:k]
	}
	f.out = out
	return out
}
