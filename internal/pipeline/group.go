package pipeline

// Groups: a camera's regions that share a model share its sessions. With
// several regions on one model, a second session takes them all in one
// invoke (the input's batch dimension resized) where the model and the
// runtime allow it; each frame uses whichever of the two the measured
// costs say is faster for the regions that are due.

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/edged-io/edged/internal/infer"
)

// group is the regions of one camera on one model and the sessions they
// run in.
type group struct {
	model *Model
	units []*unit // slot i of a batch is units[i]
	// one is a session taking one crop: the group's own, or (with pool
	// set) one of the model's shared sessions, borrowed at open for the
	// tensors' shapes and the warm-up cost and given back. Invokes go
	// through take and give.
	one  *stages
	pool *sessionPool
	many *stages // nil, or a session taking len(units) crops at once
	// Moving averages of one invoke (with conversion), per session.
	costOne, costMany time.Duration
	posts             []*infer.Postprocessor // per unit: its labels, top-k and threshold over one row of scores
	inBytes, outBytes int                    // one crop's input and one row's output in bytes
	force             bool                   // BatchOn: the batch session whenever more than one crop is due
}

// Batching is measured at start: a batch session is kept only when one
// invoke on it (the median of batchTrials) costs less than batchGain of
// the one-crop invokes it replaces.
const (
	batchTrials = 5
	batchGain   = 0.9
)

// Batch modes (Options.Batch).
const (
	BatchAuto = ""
	BatchOn   = "on"
	BatchOff  = "off"
)

// openGroup opens the sessions for units on m. Units' posts are built
// from their thresholds; batch says whether to try a batch session.
func openGroup(camera string, m *Model, units []*unit, batch string, log *slog.Logger) (*group, error) {
	var one *stages
	var err error
	if m.pool != nil {
		one, err = m.pool.get(camera)
	} else {
		one, err = openStages(camera, m)
	}
	if err != nil {
		return nil, err
	}
	g := &group{model: m, units: units, one: one, pool: m.pool, costOne: one.cost,
		inBytes: len(one.sess.InputBuffer(0)), outBytes: len(one.sess.OutputBuffer(m.Out))}
	if g.pool != nil {
		defer g.pool.put(one)
	}
	for _, u := range units {
		post := m.Post
		post.Threshold = max(post.Threshold, u.threshold)
		p, err := infer.NewPostprocessor(one.sess.Outputs()[m.Out], post)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("camera %q: model %q output: %w", camera, m.Name, err)
		}
		g.posts = append(g.posts, p)
	}
	if batch != BatchOff && len(units) > 1 {
		g.tryBatch(batch == BatchOn, log)
	}
	return g, nil
}

// tryBatch opens a session with a batch of len(g.units) crops and keeps
// it if the model takes it (one row of scores per crop) and it is faster.
func (g *group) tryBatch(force bool, log *slog.Logger) {
	n := len(g.units)
	log = log.With("model", g.model.Name, "regions", n)
	sess, err := g.model.l.NewSession()
	if err != nil {
		log.Warn("regions inferred one by one: no second session", "err", err)
		return
	}
	keep := false
	defer func() {
		if !keep {
			sess.Close()
		}
	}()
	if err := infer.SetBatch(sess, n); err != nil {
		if errors.Is(err, infer.ErrNoBatch) {
			log.Info("regions inferred one by one: the runtime cannot batch", "reason", err)
		} else {
			log.Info("regions inferred one by one: the model does not take a batch", "reason", err)
		}
		return
	}
	in, out := sess.Inputs(), sess.Outputs()
	if len(sess.InputBuffer(0)) != n*g.inBytes || g.model.Out >= len(out) || len(sess.OutputBuffer(g.model.Out)) != n*g.outBytes ||
		len(out[g.model.Out].Shape) == 0 || out[g.model.Out].Shape[0] != n {
		log.Info("regions inferred one by one: the model's outputs do not follow the batch", "input", in[0].Shape, "output", out[min(g.model.Out, len(out)-1)].Shape)
		return
	}
	// Measure, interleaved: one invoke of the batch against n of one crop.
	var tb, t1 []time.Duration
	for range batchTrials {
		t0 := time.Now()
		if err := sess.Invoke(); err != nil {
			log.Info("regions inferred one by one: a batch invoke failed", "err", err)
			return
		}
		tb = append(tb, time.Since(t0))
		t0 = time.Now()
		for range n {
			if err := g.one.sess.Invoke(); err != nil {
				return
			}
		}
		t1 = append(t1, time.Since(t0))
	}
	batchCost, oneCost := median(tb), median(t1)
	faster := float64(batchCost) < batchGain*float64(oneCost)
	log.Info("regions: batching measured", "batch_ms", ms(batchCost), "one_by_one_ms", ms(oneCost), "batched", faster || force)
	if !faster && !force {
		return
	}
	keep = true
	g.force = force
	// One crop's slot of the batch input is laid out as the one-crop
	// session's input: its converter serves both.
	g.many = &stages{model: g.model, sess: sess, conv: g.one.conv, cost: batchCost}
	g.costMany, g.costOne = batchCost, oneCost/time.Duration(n)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// batched reports whether due crops go through the batch session: when it
// exists and one batch invoke is expected to cost less than due single
// ones (or batching is forced).
func (g *group) batched(due int) bool {
	return g.many != nil && due > 1 && (g.force || g.costMany < time.Duration(due)*g.costOne)
}

// take gives the session for a frame's single crops: the group's own, or
// one borrowed from the model's pool (waiting while all are busy). Hand
// it back with give once its outputs are read.
func (g *group) take(camera string) (*stages, error) {
	if g.pool == nil {
		return g.one, nil
	}
	return g.pool.get(camera)
}

func (g *group) give(st *stages) {
	if g.pool != nil {
		g.pool.put(st)
	}
}

// close closes the group's sessions (a pool's belong to its model).
func (g *group) close() error {
	var errs []error
	if g.one != nil && g.pool == nil {
		errs = append(errs, g.one.sess.Close())
	}
	if g.many != nil {
		errs = append(errs, g.many.sess.Close())
	}
	return errors.Join(errs...)
}

// openGroups groups units by model (in the order of their first unit)
// and opens each group's sessions; models[i] is units[i]'s model. On
// failure what was opened is closed.
func openGroups(camera string, units []*unit, models []*Model, batch string, log *slog.Logger) ([]*group, error) {
	var order []*Model
	members := map[*Model][]*unit{}
	for i, u := range units {
		m := models[i]
		if _, ok := members[m]; !ok {
			order = append(order, m)
		}
		members[m] = append(members[m], u)
	}
	var groups []*group
	for _, m := range order {
		g, err := openGroup(camera, m, members[m], batch, log)
		if err != nil {
			for _, g := range groups {
				g.close()
			}
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}
