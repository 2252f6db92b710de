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

// stages is what one camera's frames go through between capture and the
// result: a session on the model, the converter that writes frames into its
// input tensor and the post-processor that reads its scores.
type stages struct {
	model *Model
	sess  infer.Session
	conv  *preprocess.Converter
	post  *infer.Postprocessor
	// cost is one warm-up invoke's duration: the first estimate of a
	// frame's inference, which paces the camera's reads from frame two.
	cost time.Duration
}

// openStages opens a session on m for camera name and builds its converter
// and post-processor.
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
	if st.post, err = infer.NewPostprocessor(sess.Outputs()[m.Out], m.Post); err != nil {
		sess.Close()
		return nil, fmt.Errorf("camera %q: model %q output: %w", name, m.Name, err)
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

// use makes st the worker's stages. The caller holds w.mu, or the worker
// is not running yet.
func (w *worker) use(st *stages) {
	w.model, w.sess, w.conv, w.post = st.model, st.sess, st.conv, st.post
	w.input = st.sess.InputBuffer(0)
	w.inferCost = st.cost
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

// CameraUpdate is a running camera's new model and publish settings.
type CameraUpdate struct {
	Model  *Model
	Filter decide.Config
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
	w         *worker
	st        *stages // nil: the model stays
	filter    *decide.Filter
	filterCfg decide.Config // nil filter: the filter stays
}

// Prepare builds what updates need beside the running cameras, without
// touching them. A camera whose model is the one it runs keeps its session;
// a camera whose publish settings (or its model's top-k) are unchanged
// keeps its filter and with it its smoothing history. The new model must
// take the frames the camera already produces: the same input size and
// channel order (anything else needs a restart). Cameras not in updates
// stay as they are.
func (p *Pipeline) Prepare(updates map[string]CameraUpdate) (*Swap, error) {
	s := &Swap{p: p}
	names := make([]string, 0, len(updates))
	for n := range updates {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		u := updates[name]
		i := slices.IndexFunc(p.workers, func(w *worker) bool { return w.name == name })
		if i < 0 {
			s.Discard()
			return nil, fmt.Errorf("camera %q: not running (adding a camera needs a restart)", name)
		}
		if u.Model == nil {
			s.Discard()
			return nil, fmt.Errorf("camera %q: no model", name)
		}
		w := p.workers[i]
		c := change{w: w}
		if u.Model != w.model {
			if err := sameInput(name, w.model, u.Model); err != nil {
				s.Discard()
				return nil, err
			}
			st, err := openStages(name, u.Model)
			if err != nil {
				s.Discard()
				return nil, err
			}
			c.st = st
		}
		fc, f, err := newFilter(name, u.Filter, u.Model)
		if err != nil {
			if c.st != nil {
				c.st.sess.Close()
			}
			s.Discard()
			return nil, err
		}
		if fc != w.filterCfg {
			c.filter, c.filterCfg = f, fc
		}
		if c.st != nil || c.filter != nil {
			s.changes = append(s.changes, c)
		}
	}
	return s, nil
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

// Apply puts the prepared stages and filters in place. Each camera switches
// between two frames: a frame being inferred finishes on the old model, the
// next one uses the new model. The old sessions are closed; closing the
// old models is the caller's business once Apply has returned.
func (s *Swap) Apply() error {
	var errs []error
	for _, c := range s.changes {
		w := c.w
		var old infer.Session
		w.mu.Lock() // between two frames: model and filter change together
		if c.st != nil {
			old = w.sess
			w.use(c.st)
		}
		if c.filter != nil {
			w.filterCfg = c.filterCfg
			w.pendingFilter = c.filter
		}
		w.mu.Unlock()
		if old != nil {
			errs = append(errs, old.Close())
		}
	}
	s.changes = nil
	return errors.Join(errs...)
}

// Discard closes the prepared sessions; nothing running changes.
func (s *Swap) Discard() {
	for _, c := range s.changes {
		if c.st != nil {
			c.st.sess.Close()
		}
	}
	s.changes = nil
}
