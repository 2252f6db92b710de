package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/edged-io/edged/internal/decide"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/preprocess"
)

// stages is a session on a model and the converter that writes crops
// into its input tensor (each unit of a group has its own post-processor
// for the scores).
type stages struct {
	model *Model
	sess  infer.Session
	conv  *preprocess.Converter
	// cost is one warm-up invoke's duration: the first estimate of a
	// frame's inference, which paces the camera's reads from frame two.
	cost time.Duration
}

// openStages opens a session on m for camera name and builds its
// converter.
func openStages(name string, m *Model) (*stages, error) {
	sess, err := m.l.NewSession()
	if err != nil {
		return nil, fmt.Errorf("camera %q: open session on model %q: %w", name, m.Name, err)
	}
	st := &stages{model: m, sess: sess}
	if st.conv, err = preprocess.NewConverter(sess.Inputs()[0], m.Norm, m.BGR); err != nil {
		sess.Close()
		return nil, fmt.Errorf("camera %q: model %q input: %w", name, m.Name, err)
	}
	// One invoke on the zeroed input before the first frame: the runtime
	// does its one-time work (weight packing, first allocations) now rather
	// than on a result's latency, a model that cannot run fails here, and
	// the time taken seeds the pacing of the camera's reads.
	t0 := time.Now()
	if err := sess.Invoke(); err != nil {
		sess.Close()
		return nil, fmt.Errorf("camera %q: model %q: warm-up invoke: %w", name, m.Name, err)
	}
	st.cost = time.Since(t0)
	return st, nil
}

// newFilter builds a camera's publish filter; its top-k defaults to the
// model's.
func newFilter(name string, fc decide.Config, m *Model) (decide.Config, *decide.Filter, error) {
	if fc.TopK == 0 {
		fc.TopK = m.Post.TopK
	}
	f, err := decide.New(fc)
	if err != nil {
		return fc, nil, fmt.Errorf("camera %q: publish: %w", name, err)
	}
	return fc, f, nil
}

// filterSwap is a publish filter that applies from the result numbered
// from (counted from 0 in the order the infer loop queued them).
type filterSwap struct {
	f    *decide.Filter
	from uint64
}

// CameraUpdate is a running camera's new models and publish settings, or
// a whole new spec to restart it with.
type CameraUpdate struct {
	Model   *Model            // the camera's model (without regions)
	Regions map[string]*Model // with regions: each region's model, by name
	Filter  decide.Config
	// Restart, when set, replaces the camera with one built from it (other
	// regions, say) and the fields above are not used: Apply stops the
	// running camera the way a run ends and starts the new one on the
	// same source. Region states carry over through Options.Restore.
	Restart *CameraSpec
}

// Swap is a reload built beside the running pipeline: new sessions,
// converters, post-processors and publish filters, checked and ready.
// Apply puts them in place; Discard drops them. One of the two must be
// called.
type Swap struct {
	p       *Pipeline
	changes []change
}

type change struct {
	w       *worker
	repl    *worker          // the camera's replacement (CameraUpdate.Restart)
	groups  []*group         // nil: the models stay
	filters []*decide.Filter // per unit; nil entries keep the unit's filter
	cfgs    []decide.Config
}

// Prepare builds what updates need beside the running cameras, without
// touching them. A camera whose models are the ones it runs keeps its
// sessions; a unit (region) whose publish settings (or its model's top-k)
// are unchanged keeps its filter and with it its smoothing history. A new
// model must take the crops the camera already produces: the same input
// size and channel order (anything else needs a restart). Cameras not in
// updates stay as they are.
func (p *Pipeline) Prepare(updates map[string]CameraUpdate) (*Swap, error) {
	s := &Swap{p: p}
	names := make([]string, 0, len(updates))
	for n := range updates {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		c, err := p.prepare(name, updates[name])
		if err != nil {
			s.Discard()
			return nil, err
		}
		if c.repl != nil || c.groups != nil || slices.ContainsFunc(c.filters, func(f *decide.Filter) bool { return f != nil }) {
			s.changes = append(s.changes, c)
		}
	}
	return s, nil
}

func (p *Pipeline) prepare(name string, u CameraUpdate) (change, error) {
	ws := p.list()
	i := slices.IndexFunc(ws, func(w *worker) bool { return w.name == name })
	if i < 0 {
		return change{}, fmt.Errorf("camera %q: not running (adding a camera needs a restart)", name)
	}
	w := ws[i]
	c := change{w: w}
	if u.Restart != nil {
		if u.Restart.Camera.Name != name {
			return change{}, fmt.Errorf("camera %q: restart spec names camera %q", name, u.Restart.Camera.Name)
		}
		nw, err := newWorker(*u.Restart, p.opts)
		if err != nil {
			return change{}, err
		}
		c.repl = nw
		return c, nil
	}
	models := make([]*Model, len(w.units))
	same := true
	w.mu.Lock()
	old := make([]*Model, len(w.units))
	for j, un := range w.units {
		old[j] = un.model
	}
	w.mu.Unlock()
	for j, un := range w.units {
		m := u.Model
		if un.name != "" {
			m = u.Regions[un.name]
		}
		if m == nil {
			if un.name != "" {
				return change{}, fmt.Errorf("camera %q: region %q: no model", name, un.name)
			}
			return change{}, fmt.Errorf("camera %q: no model", name)
		}
		if m != old[j] {
			if err := sameInput(name, old[j], m); err != nil {
				return change{}, err
			}
			same = false
		}
		models[j] = m
	}
	if !same {
		groups, err := openGroups(name, w.units, models, w.batch, w.log)
		if err != nil {
			return change{}, err
		}
		c.groups = groups
	}
	c.filters = make([]*decide.Filter, len(w.units))
	c.cfgs = make([]decide.Config, len(w.units))
	for j, un := range w.units {
		fc, f, err := newFilter(name, u.Filter, models[j])
		if err != nil {
			for _, g := range c.groups {
				g.close()
			}
			return change{}, err
		}
		if fc != un.filterCfg {
			c.filters[j], c.cfgs[j] = f, fc
		}
	}
	return c, nil
}

// sameInput checks that the camera's frames, sized and ordered for old,
// fit new.
func sameInput(camera string, old, new *Model) error {
	oi, ni := old.Info.Inputs[0], new.Info.Inputs[0]
	if oi.Shape[1] != ni.Shape[1] || oi.Shape[2] != ni.Shape[2] {
		return fmt.Errorf("camera %q: model %q (%s) takes %dx%d frames but the camera produces %dx%d for model %q: restart edged to change the input size",
			camera, new.Name, new.Path, ni.Shape[2], ni.Shape[1], oi.Shape[2], oi.Shape[1], old.Name)
	}
	if old.BGR != new.BGR {
		return fmt.Errorf("camera %q: model %q changes the channel order (color): restart edged to apply it", camera, new.Name)
	}
	return nil
}

// Changed lists the cameras the swap changes.
func (s *Swap) Changed() []string {
	out := make([]string, 0, len(s.changes))
	for _, c := range s.changes {
		out = append(out, c.w.name)
	}
	return out
}

// Apply puts the prepared sessions and filters in place. Each camera
// switches between two frames: a frame being inferred finishes on the old
// models, the next one uses the new ones. The old sessions are closed;
// closing the old models is the caller's business once Apply has returned.
func (s *Swap) Apply() error {
	var errs []error
	for _, c := range s.changes {
		w := c.w
		if c.repl != nil {
			errs = append(errs, s.p.replace(w, c.repl))
			continue
		}
		var old []*group
		w.mu.Lock() // between two frames: models and filters change together
		if c.groups != nil {
			old = w.groups
			w.use(c.groups)
		}
		for j, f := range c.filters {
			if f != nil {
				w.units[j].filterCfg = c.cfgs[j]
				w.units[j].pendingFilter = f
			}
		}
		w.mu.Unlock()
		for _, g := range old {
			errs = append(errs, g.close())
		}
	}
	s.changes = nil
	return errors.Join(errs...)
}

// Discard closes the prepared sessions; nothing running changes.
func (s *Swap) Discard() {
	for _, c := range s.changes {
		for _, g := range c.groups {
			g.close()
		}
		if c.repl != nil {
			c.repl.close()
		}
	}
	s.changes = nil
}
