package pipeline

// Regions: the parts of a camera's frame that are classified on their own,
// each with a trigger (when to infer) and a state (the label that held).

import (
	"context"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samples"
)

// Trigger modes: when a region's crop goes through its model.
const (
	Every    = "every"    // every frame the camera delivers (its fps)
	Interval = "interval" // at most once per Trigger.Interval
	Motion   = "motion"   // when the region's pixels changed, and at least once per Trigger.Heartbeat
)

// Trigger says when a region is inferred.
type Trigger struct {
	Mode     string        // Every (default), Interval or Motion
	Interval time.Duration // Interval: the least time between two inferences
	// Motion: a cell of the region's downscaled grey image counts as
	// changed when its mean moved by more than Threshold grey levels
	// since the region's last inference; the region moved when at least
	// MinArea of its cells changed.
	Threshold int
	MinArea   float64
	Heartbeat time.Duration // Motion: infer at least this often, moved or not
}

// RegionSpec is one region of a camera.
type RegionSpec struct {
	Name   string
	Box    preprocess.Box
	Field  string // the configuration field of Box, named in errors (cameras[0].regions[1].roi)
	Resize string // the resize mode of the crop
	Model  *Model
	// Threshold: labels scoring below it are not reported (the model's
	// threshold holds too).
	Threshold float32
	Trigger   Trigger
	Confirm   int     // results in a row that make a label the state (default 3)
	MinScore  float32 // a result's top score must reach this to count
	Samples   Samples // which crops are kept (none when When is empty)
}

// Samples says which of a unit's crops go to the sample keeper.
type Samples struct {
	When     []string      // samples.LowScore, StateChange, Interval
	Below    float32       // LowScore: a top score below this
	Interval time.Duration // Interval: one per this long
	Limits   samples.Limits
	Frame    bool // keep the whole frame (scaled to camera.SnapshotWidth) beside the crop
}

// Unknown is a region's state before its first confirmed label.
const Unknown = result.Unknown

// State is a region's confirmed state.
type State = result.RegionState

// StateChange is a region's confirmed change of state.
type StateChange = result.StateChange

// StateSink receives the regions' state changes, in order per region. A
// sink that fails to take a change is asked again with the next one; the
// region's state has changed either way.
type StateSink interface {
	PublishState(ctx context.Context, c StateChange) error
}

// tracker turns a region's results into its state: a label becomes the
// state once it was the top label, scoring at least minScore, in confirm
// results in a row. Leaving a state takes the same (hysteresis): a single
// odd result changes nothing, and a result below minScore breaks a run.
type tracker struct {
	confirm  int
	minScore float32
	cur      State
	cand     string // the label gathering a run
	run      int    // its results in a row
}

func newTracker(confirm int, minScore float32, restored State) *tracker {
	if restored.Label == "" {
		restored.Label = Unknown
	}
	return &tracker{confirm: max(confirm, 1), minScore: minScore, cur: restored}
}

// observe takes one result; changed reports a new state (from is the old).
func (t *tracker) observe(r *result.Result) (from State, changed bool) {
	if len(r.Labels) == 0 || r.Labels[0].Score < t.minScore {
		t.cand, t.run = "", 0
		return State{}, false
	}
	top := r.Labels[0]
	if top.Label == t.cur.Label {
		t.cand, t.run = "", 0
		return State{}, false
	}
	if top.Label != t.cand {
		t.cand, t.run = top.Label, 0
	}
	t.run++
	if t.run < t.confirm {
		return State{}, false
	}
	from = t.cur
	t.cur = State{Label: top.Label, Score: top.Score, Since: r.Captured, Seq: from.Seq + 1, Model: r.Model}
	t.cand, t.run = "", 0
	return from, true
}

// motion detects change in a region's pixels cheaply: the view is reduced
// to a grid of mean grey levels (sampling every other pixel), compared
// with the grid of the region's last inference.
type motion struct {
	threshold int32
	minArea   float64
	gw, gh    int     // grid size
	cellOf    []int32 // for each sampled column, its grid column
	sum, n    []int32 // per cell, this frame
	cur, ref  []int32 // per cell: this frame's means, the last inference's
	haveRef   bool
}

// motionGrid is the grid's longer side: 16×16 cells on a square crop.
const motionGrid = 16

func newMotion(w, h int, t Trigger) *motion {
	gw, gh := min(w, motionGrid), min(h, motionGrid)
	m := &motion{threshold: int32(t.Threshold), minArea: t.MinArea, gw: gw, gh: gh,
		cellOf: make([]int32, w), sum: make([]int32, gw*gh), n: make([]int32, gw*gh),
		cur: make([]int32, gw*gh), ref: make([]int32, gw*gh)}
	for x := range w {
		m.cellOf[x] = int32(x * gw / w)
	}
	return m
}

// moved measures pix (w×h packed BGR) and reports whether it differs from
// the reference; with no reference yet it has moved.
func (m *motion) moved(pix []byte, w, h int) bool {
	clear(m.sum)
	clear(m.n)
	for y := 0; y < h; y += 2 {
		row := (y * m.gh / h) * m.gw
		line := pix[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x += 2 {
			p := line[x*3 : x*3+3 : x*3+3]
			c := row + int(m.cellOf[x])
			m.sum[c] += (int32(p[0]) + 2*int32(p[1]) + int32(p[2])) >> 2
			m.n[c]++
		}
	}
	for i := range m.cur {
		if m.n[i] > 0 {
			m.cur[i] = m.sum[i] / m.n[i]
		}
	}
	if !m.haveRef {
		return true
	}
	changed := 0
	for i, v := range m.cur {
		if d := v - m.ref[i]; d > m.threshold || -d > m.threshold {
			changed++
		}
	}
	return float64(changed) >= m.minArea*float64(len(m.cur))
}

// inferred makes the last measured frame the reference.
func (m *motion) inferred() {
	copy(m.ref, m.cur)
	m.haveRef = true
}

// due reports whether u's crop of this frame (captured at now) is to be
// inferred, measuring motion when its trigger asks for it.
func (u *unit) due(now time.Time, pix []byte) bool {
	switch u.trig.Mode {
	case Interval:
		return u.last.IsZero() || now.Sub(u.last) >= u.trig.Interval
	case Motion:
		if u.burst > 0 {
			u.inBurst = true
			return true
		}
		u.inBurst = false
		moved := u.mot.moved(pix, u.w, u.h)
		return moved || u.last.IsZero() || now.Sub(u.last) >= u.trig.Heartbeat
	default:
		return true
	}
}

// sample offers r's crop (pix) to the keeper when u's samples ask for it:
// a low top score, a state change (changed), or the interval. Only a kept
// crop is copied.
func (u *unit) sample(k *samples.Keeper, cam *camera.Camera, camName string, r *result.Result, pix []byte, changed bool) {
	if k == nil || len(u.samp.When) == 0 {
		return
	}
	reason := ""
	for _, w := range u.samp.When {
		switch {
		case w == samples.StateChange && changed,
			w == samples.LowScore && (len(r.Labels) == 0 || r.Labels[0].Score < u.samp.Below),
			w == samples.Interval && (u.sampled.IsZero() || r.Captured.Sub(u.sampled) >= u.samp.Interval):
			reason = w
		}
		if reason != "" {
			break
		}
	}
	if reason == "" {
		return
	}
	s := samples.Sample{Camera: camName, Region: u.name, Reason: reason, Result: *r, W: u.w, H: u.h, Limits: u.samp.Limits,
		Pixels: append([]byte(nil), pix...)}
	if u.samp.Frame {
		// The camera keeps a snapshot of every frame for this (KeepFrames).
		if f := cam.SnapshotOf(r.Frame); f != nil {
			s.FrameJPEG = f.JPEG
		}
	}
	s.Result.Labels = append([]result.Label(nil), r.Labels...)
	if k.Offer(s) {
		u.sampled = r.Captured
	}
}

// ran records that u's crop captured at now was inferred.
//
// A motion-gated region that was triggered (by motion, its first frame or
// its heartbeat) goes on for confirm-1 more frames: a run of results long
// enough to confirm a state, which a lone result never is.
func (u *unit) ran(now time.Time) {
	u.last = now
	if u.mot == nil {
		return
	}
	if u.inBurst {
		u.burst--
		return
	}
	u.mot.inferred()
	u.burst = u.confirm - 1
}
