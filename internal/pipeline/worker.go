package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/decide"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samples"
)

// worker owns one camera's capture, sessions and result queue.
type worker struct {
	name string
	log  *slog.Logger
	cam  *camera.Camera
	// units are what each frame is classified as: the camera's regions,
	// or one unit for the whole frame.
	units []*unit
	// mu guards groups, each unit's model, group, slot and post, and
	// inferCost: the infer loop holds it for one frame's conversions,
	// invokes and post-processing, and a reload (Swap.Apply) takes it to
	// replace them between two frames.
	mu          sync.Mutex
	groups      []*group
	sink        Sink
	states      StateSink
	drain       time.Duration
	deliverable func() bool // Options.Deliverable
	met         *metrics.Camera
	// free holds the camera's reusable results: every result is either
	// here, being filled by the infer loop, queued, or being published.
	free chan *result.Result
	// inferSince is when the running convert, invoke and post-processing
	// began (unix ns); 0 when the infer loop is not inside one.
	inferSince atomic.Int64
	// inferCost (guarded by mu) is a moving average of one frame's
	// conversions, invokes and post-processing; file sources read the
	// next frame to be ready then. New models start it from their warm-up.
	inferCost time.Duration
	gate      Gate     // nil: every frame is inferred
	obs       Observer // nil: nobody watches results
	keeper    *samples.Keeper
	batch     string        // Options.Batch
	frames    atomic.Uint64 // frames inferred (one or more units)
	failed    atomic.Uint64 // crops skipped because the model could not take them
	costNS    atomic.Int64  // inferCost, for Stats
	// overlay holds each view's latest result as drawn over the live view's
	// snapshots and served by Latest; kept only while someone watches
	// (camera.Watched, or Latest asked within watchLatest).
	overlay     []atomic.Pointer[Latest]
	latestUntil atomic.Int64 // unix ns
	// stopCause ends the worker's run and done closes when it returned; both
	// nil until Pipeline.Run starts it.
	stopCause context.CancelCauseFunc
	done      chan struct{}

	once sync.Once
}

// unit is one region of a camera (or its whole frame): its view of each
// frame, trigger, state and publish filter.
type unit struct {
	name      string // the region; "" for the whole frame
	view      int    // index into the frame's views
	w, h      int    // the view's size
	threshold float32
	trig      Trigger
	mot       *motion   // Motion trigger only
	last      time.Time // capture time of the last inferred crop (infer loop)
	confirm   int       // results in a row that confirm a state
	burst     int       // Motion: frames still to infer after a trigger (infer loop)
	inBurst   bool      // Motion: the frame being inferred is part of a run

	met *metrics.Region

	// Guarded by worker.mu.
	model *Model
	grp   *group
	slot  int

	track   *tracker // infer loop
	samp    Samples
	sampled time.Time // capture time of the last sample offered (infer loop)
	// pendingFilter (guarded by worker.mu) is a publish filter a reload
	// brought; the infer loop hands it on through nextFilter so that it
	// applies from the first result inferred after the reload, not to
	// results queued before it.
	pendingFilter *decide.Filter
	filterCfg     decide.Config // what the newest filter was made from (TopK filled in)
	nextFilter    atomic.Pointer[filterSwap]
	queued        uint64 // results handed to the publishing goroutine (infer loop)
	// filter and taken (the results it has been given) belong to the
	// publishing goroutine.
	filter *decide.Filter
	taken  uint64
}

// item is a result queued for the publishing goroutine, with its unit and
// the state change it confirmed, if any.
type item struct {
	r      *result.Result
	u      *unit
	change *StateChange
}

func newWorker(spec CameraSpec, opts Options) (*worker, error) {
	name := spec.Camera.Name
	w := &worker{name: name, sink: opts.Sink, states: opts.States, drain: opts.DrainTimeout, deliverable: opts.Deliverable,
		met: opts.Metrics.Camera(name), gate: spec.Gate, obs: opts.Observer, batch: opts.Batch, keeper: opts.Samples,
		log: opts.Log.With("camera", name)}
	cfg := spec.Camera
	var models []*Model
	if len(spec.Regions) == 0 {
		if spec.Model == nil {
			return nil, fmt.Errorf("camera %q: no model", name)
		}
		w.log = w.log.With("model", spec.Model.Name)
		models = append(models, spec.Model)
		w.units = append(w.units, &unit{trig: Trigger{Mode: Every}, samp: spec.Samples})
		cfg.Views = []preprocess.Spec{cfg.Spec}
	} else {
		cfg.Views = nil
		for i, rs := range spec.Regions {
			if rs.Model == nil {
				return nil, fmt.Errorf("camera %q: region %q: no model", name, rs.Name)
			}
			models = append(models, rs.Model)
			u := &unit{name: rs.Name, view: i, threshold: rs.Threshold, trig: rs.Trigger, confirm: max(rs.Confirm, 1), samp: rs.Samples,
				met: opts.Metrics.Region(name, rs.Name)}
			var restored State
			if opts.Restore != nil {
				restored, _ = opts.Restore(name, rs.Name)
			}
			u.track = newTracker(rs.Confirm, rs.MinScore, restored)
			w.units = append(w.units, u)
			cfg.Views = append(cfg.Views, preprocess.Spec{Box: rs.Box, Field: rs.Field, Mode: rs.Resize, PadValue: cfg.Spec.PadValue})
		}
	}
	topK := 1
	for i, u := range w.units {
		m := models[i]
		in := m.Info.Inputs[0]
		u.w, u.h = in.Shape[2], in.Shape[1]
		cfg.Views[i].Width, cfg.Views[i].Height = u.w, u.h
		cfg.Views[i].BGR = m.BGR
		if u.trig.Mode == Motion {
			u.mot = newMotion(u.w, u.h, u.trig)
		}
		topK = max(topK, m.Post.TopK)
		var err error
		if u.filterCfg, u.filter, err = newFilter(name, spec.Filter, m); err != nil {
			return nil, err
		}
	}
	groups, err := openGroups(name, w.units, models, w.batch, w.log)
	if err != nil {
		return nil, err
	}
	w.use(groups)
	w.free = make(chan *result.Result, queued+len(w.units)+1)
	for range cap(w.free) {
		w.free <- &result.Result{Labels: make([]result.Label, 0, topK)}
	}
	w.overlay = make([]atomic.Pointer[Latest], len(w.units))
	cfg.Overlay = w.overlayText
	for _, u := range w.units {
		cfg.KeepFrames = cfg.KeepFrames || (u.samp.Frame && len(u.samp.When) > 0)
	}
	if w.cam, err = camera.New(cfg, w.log); err != nil {
		w.closeGroups()
		return nil, fmt.Errorf("camera %q: %w", name, err)
	}
	return w, nil
}

// use makes groups the worker's: each unit learns its group, slot, model
// and post-processor. The caller holds w.mu, or the worker is not running
// yet.
func (w *worker) use(groups []*group) {
	w.groups = groups
	w.inferCost = 0
	for _, g := range groups {
		for slot, u := range g.units {
			u.grp, u.slot, u.model = g, slot, g.model
		}
		w.inferCost += g.one.cost * time.Duration(len(g.units))
	}
}

func (w *worker) closeGroups() error {
	var errs []error
	for _, g := range w.groups {
		errs = append(errs, g.close())
	}
	return errors.Join(errs...)
}

// run drives capture, inference and publishing for one camera until ctx
// ends or the source ends.
func (w *worker) run(ctx context.Context) error {
	capCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	capDone := make(chan error, 1)
	go func() { capDone <- w.cam.Run(capCtx) }()

	// Results wait here for the publishing goroutine; inference never waits
	// on the network unless the queue is full (then it back-pressures and
	// nothing is dropped).
	results := make(chan item, queued)
	pubDone := make(chan error, 1)
	go func() { pubDone <- w.publishLoop(ctx, results) }()

	inferErr := w.inferLoop(ctx, results)
	close(results)
	stopCapture()
	capErr := <-capDone
	pubErr := <-pubDone
	if errors.Is(capErr, context.Canceled) {
		capErr = nil
	}
	return errors.Join(inferErr, capErr, pubErr)
}

// inferLoop takes frames, works out which units are due, converts their
// crops straight into the sessions' input tensors, invokes the models and
// queues the results. In the steady state it allocates nothing: frames
// and results are reused.
func (w *worker) inferLoop(ctx context.Context, out chan<- item) error {
	due := make([]*unit, 0, len(w.units))
	var done []item
	for {
		f, err := w.cam.Next(ctx)
		if errors.Is(err, camera.ErrEndOfInput) {
			w.log.Info("end of input")
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("camera %q: %w", w.name, err)
		}
		if w.gate != nil && !w.gate.Allow() {
			w.met.Gated.Inc()
			w.cam.Release(f)
			continue
		}
		due = due[:0]
		for _, u := range w.units {
			if u.due(f.Captured, f.Views[u.view]) {
				due = append(due, u)
			} else if u.met != nil {
				u.met.Idle.Inc()
			}
		}
		if len(due) == 0 {
			w.cam.Release(f)
			continue
		}
		// One result per due unit, taken before the lock: waiting for
		// the publishing goroutine must not hold up a reload.
		done = done[:0]
		for _, u := range due {
			select {
			case r := <-w.free:
				done = append(done, item{r: r, u: u})
			case <-ctx.Done():
				w.cam.Release(f)
				return nil
			}
		}
		t0 := time.Now()
		w.inferSince.Store(t0.UnixNano())
		w.mu.Lock() // a reload swaps models between frames, never within one
		w.cam.WantNextAt(t0.Add(w.inferCost))
		for _, it := range done {
			if it.u.pendingFilter != nil {
				it.u.nextFilter.Store(&filterSwap{f: it.u.pendingFilter, from: it.u.queued})
				it.u.pendingFilter = nil
			}
		}
		failed := w.inferFrame(f, done)
		w.inferCost = ema(w.inferCost, time.Since(t0)) // under mu: a reload resets it
		w.costNS.Store(int64(w.inferCost))
		w.mu.Unlock()
		w.frames.Add(1)
		w.inferSince.Store(0)
		for i := range done {
			it := &done[i]
			if failed[it.u] != nil {
				continue
			}
			if it.u.track != nil {
				if from, changed := it.u.track.observe(it.r); changed {
					it.change = &StateChange{Camera: w.name, Region: it.u.name, From: from, To: it.u.track.cur, At: it.r.Captured}
				}
			}
			it.u.sample(w.keeper, w.cam, w.name, it.r, f.Views[it.u.view], it.change != nil)
		}
		w.cam.Release(f)
		watched := w.cam.Watched() || time.Now().UnixNano() < w.latestUntil.Load()
		for _, it := range done {
			if failed[it.u] != nil {
				// A frame the model cannot take is skipped; the camera goes on.
				w.met.Failed.Inc()
				w.failed.Add(1)
				w.log.Warn("frame skipped", "frame", f.Number, "region", it.u.name, "err", failed[it.u])
				w.free <- it.r
				continue
			}
			it.u.ran(f.Captured)
			if watched {
				w.noteOverlay(it.u, it.r)
			}
			w.met.Inferred.Inc()
			if it.u.met != nil {
				it.u.met.Inferred.Inc()
			}
			r := it.r
			metrics.Observe(w.met.Capture, r.Latency.Capture)
			metrics.Observe(w.met.Preprocess, r.Latency.Preprocess)
			metrics.Observe(w.met.Infer, r.Latency.Infer)
			if w.obs != nil {
				w.obs.Observe(w.name, r)
			}
			select {
			case out <- it:
				it.u.queued++
			case <-ctx.Done():
				return nil
			}
		}
		clear(failed)
	}
}

// inferFrame runs frame f's crops for the due units through their groups'
// sessions, filling each item's result. It returns the units that failed,
// with why. The caller holds w.mu.
func (w *worker) inferFrame(f *camera.Frame, items []item) map[*unit]error {
	var failed map[*unit]error
	fail := func(u *unit, err error) {
		if failed == nil {
			failed = map[*unit]error{}
		}
		failed[u] = err
	}
	for _, g := range w.groups {
		n := 0
		for _, it := range items {
			if it.u.grp == g {
				n++
			}
		}
		if n == 0 {
			continue
		}
		if g.batched(n) {
			t0 := time.Now()
			in := g.many.sess.InputBuffer(0)
			var err error
			for _, it := range items {
				if it.u.grp == g && err == nil {
					err = g.many.conv.Convert(in[it.u.slot*g.inBytes:(it.u.slot+1)*g.inBytes], f.Views[it.u.view])
				}
			}
			t1 := time.Now()
			if err == nil {
				err = g.many.sess.Invoke()
			}
			t2 := time.Now()
			g.costMany = ema(g.costMany, t2.Sub(t0))
			raw := g.many.sess.OutputBuffer(g.model.Out)
			for _, it := range items {
				if it.u.grp != g {
					continue
				}
				if err != nil {
					fail(it.u, err)
					continue
				}
				row := raw[it.u.slot*g.outBytes : (it.u.slot+1)*g.outBytes]
				if perr := w.fill(it, f, row, t1.Sub(t0)/time.Duration(n), t2.Sub(t1)); perr != nil {
					fail(it.u, perr)
				}
			}
			continue
		}
		st, err := g.take(w.name)
		if err != nil {
			for _, it := range items {
				if it.u.grp == g {
					fail(it.u, err)
				}
			}
			continue
		}
		for _, it := range items {
			if it.u.grp != g {
				continue
			}
			t0 := time.Now()
			err := st.conv.Convert(st.sess.InputBuffer(0), f.Views[it.u.view])
			t1 := time.Now()
			if err == nil {
				err = st.sess.Invoke()
			}
			t2 := time.Now()
			g.costOne = ema(g.costOne, t2.Sub(t0))
			if err == nil {
				err = w.fill(it, f, st.sess.OutputBuffer(g.model.Out), t1.Sub(t0), t2.Sub(t1))
			}
			if err != nil {
				fail(it.u, err)
			}
		}
		g.give(st)
	}
	return failed
}

// fill writes the result of it's crop of f from its row of scores.
func (w *worker) fill(it item, f *camera.Frame, row []byte, convert, invoke time.Duration) error {
	r, u := it.r, it.u
	t0 := time.Now()
	*r = result.Result{
		Frame:    f.Number,
		Captured: f.Captured,
		File:     f.File,
		Region:   u.name,
		Model:    u.model.Ref,
		Labels:   r.Labels[:0],
	}
	var err error
	r.Labels, err = u.grp.posts[u.slot].TopK(row, r.Labels)
	now := time.Now()
	r.Latency = result.Latency{
		Capture:    f.ReadDur,
		Preprocess: f.ResizeDur + convert,
		Infer:      invoke + now.Sub(t0),
		Total:      now.Sub(f.Captured), // Captured is when the read began
	}
	return err
}

// publishLoop tracks each region's state, applies the publish filter and
// hands results to the sink. At shutdown it drains what is queued within
// the drain timeout.
func (w *worker) publishLoop(ctx context.Context, in <-chan item) error {
	// Once ctx ends, what is still queued gets the drain timeout to reach
	// the sink, so results already inferred are not lost on shutdown.
	drainCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.drain, func() { cancel(nil) })
		context.AfterFunc(drainCtx, func() { t.Stop() })
		if w.deliverable != nil {
			go w.watchDelivery(drainCtx, cancel)
		}
	})
	defer stop()
	dropped := 0
	for it := range in {
		if ctx.Err() != nil && drainCtx.Err() != nil {
			// Shutting down and the drain is over: what is left is
			// dropped, said once below rather than once per result.
			dropped++
		} else {
			w.publish(drainCtx, it)
		}
		w.free <- it.r // never blocks: free has room for every result
	}
	if dropped > 0 {
		w.met.PublishErrors.Add(float64(dropped))
		why := "the drain timeout passed"
		if errors.Is(context.Cause(drainCtx), errUndeliverable) {
			why = "the broker is not connected"
		}
		w.log.Warn("results not delivered at shutdown: "+why, "results", dropped, "drain", w.drain.String())
	}
	return nil
}

// errUndeliverable ends a shutdown drain the sink cannot complete.
var errUndeliverable = errors.New("the sink cannot deliver")

// watchDelivery ends the shutdown drain (cancel, with errUndeliverable)
// once the sink says it cannot deliver, checking every 50 ms until
// drainCtx ends.
func (w *worker) watchDelivery(drainCtx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if !w.deliverable() {
			cancel(errUndeliverable)
			return
		}
		select {
		case <-drainCtx.Done():
			return
		case <-t.C:
		}
	}
}

// publish hands on the state change it's result confirmed, then the
// result if its unit's filter lets it through.
func (w *worker) publish(ctx context.Context, it item) {
	u, r := it.u, it.r
	t0 := time.Now()
	if c := it.change; c != nil {
		u.met.Changes.Inc()
		w.log.Info("region state changed", "region", u.name, "from", c.From.Label, "to", c.To.Label,
			"score", c.To.Score, "after", c.At.Sub(c.From.Since).Round(time.Millisecond).String())
		if w.states != nil {
			if err := w.states.PublishState(ctx, *c); err != nil {
				w.met.PublishErrors.Inc()
				w.log.Error("publishing a state change failed", "region", u.name, "err", err)
			}
		}
	}
	if s := u.nextFilter.Load(); s != nil && u.taken >= s.from {
		// The first result inferred after a reload: its publish settings
		// apply from here on.
		u.filter = s.f
		u.nextFilter.CompareAndSwap(s, nil)
	}
	u.taken++
	if !u.filter.Accept(r, t0) {
		return
	}
	if err := w.sink.Publish(ctx, w.name, r); err != nil {
		w.met.PublishErrors.Inc()
		w.log.Error("publish failed", "frame", r.Frame, "region", u.name, "err", err)
		return
	}
	t1 := time.Now()
	w.met.Published.Inc()
	metrics.Observe(w.met.Publish, t1.Sub(t0))
	metrics.Observe(w.met.Total, t1.Sub(r.Captured))
}

// ema folds d into a moving average of recent durations; the first
// measurement starts it, so pacing is right from the second frame on.
func ema(avg, d time.Duration) time.Duration {
	if avg == 0 {
		return d
	}
	return (7*avg + d) / 8
}

func (w *worker) close() error {
	var err error
	w.once.Do(func() {
		var errs []error
		if w.cam != nil {
			errs = append(errs, w.cam.Close())
		}
		w.mu.Lock()
		errs = append(errs, w.closeGroups())
		w.mu.Unlock()
		err = errors.Join(errs...)
	})
	return err
}

// Latest is a view's (a region's, or the whole frame's) latest result as
// the live view shows it.
type Latest struct {
	Region   string         // "" for the whole frame
	Frame    uint64         // the source frame it came from (as published)
	Captured time.Time      // when that frame was captured
	Labels   []result.Label // best first, at most three
	State    string         // the region's confirmed state; "" without regions
}

// Text is l as drawn over the frame.
func (l *Latest) Text() string {
	top := ""
	if len(l.Labels) > 0 {
		top = fmt.Sprintf("%s %.2f", l.Labels[0].Label, l.Labels[0].Score)
	}
	if l.Region == "" {
		return top
	}
	text := l.Region + ": " + l.State
	if top != "" {
		text += " (" + top + ")"
	}
	return text
}

// watchLatest is how long after a call to Pipeline.Latest results are
// still kept for it.
const watchLatest = 5 * time.Second

// noteOverlay keeps r as u's view's latest result for the live view.
func (w *worker) noteOverlay(u *unit, r *result.Result) {
	l := &Latest{Region: u.name, Frame: r.Frame, Captured: r.Captured, Labels: slices.Clone(r.Labels[:min(len(r.Labels), 3)])}
	if u.track != nil {
		l.State = u.track.cur.Label
	}
	w.overlay[u.view].Store(l)
}

// overlayText is the camera's Overlay: view i's latest label.
func (w *worker) overlayText(i int) string {
	if i < 0 || i >= len(w.overlay) {
		return ""
	}
	if l := w.overlay[i].Load(); l != nil {
		return l.Text()
	}
	return ""
}

// Latest returns camera name's latest result of each view (one per region,
// or one for the whole frame) that has one. Results are kept for it only
// while someone asks: the first call after a pause may return none.
func (p *Pipeline) Latest(name string) ([]Latest, error) {
	for _, w := range p.list() {
		if w.name != name {
			continue
		}
		w.latestUntil.Store(time.Now().Add(watchLatest).UnixNano())
		var out []Latest
		for i := range w.overlay {
			if l := w.overlay[i].Load(); l != nil {
				out = append(out, *l)
			}
		}
		return out, nil
	}
	return nil, ErrNoCamera
}

// Snapshot is camera name's latest frame as a JPEG (with its regions and
// labels drawn when overlay is set); see camera.Camera.Snapshot.
func (p *Pipeline) Snapshot(ctx context.Context, name string, since time.Time, overlay bool) (*camera.Snapshot, error) {
	for _, w := range p.list() {
		if w.name == name {
			return w.cam.Snapshot(ctx, since, overlay)
		}
	}
	return nil, ErrNoCamera
}

// ErrNoCamera is Snapshot's error for a camera name the pipeline lacks.
var ErrNoCamera = errors.New("no such camera")

// CameraStats are a camera's inference counters.
type CameraStats struct {
	Frames uint64        // frames inferred since start
	Failed uint64        // crops the model could not take (skipped), since start
	Cost   time.Duration // moving average of one frame's inference (every due region)
}

// Stats returns each camera's inference counters, by camera name.
func (p *Pipeline) Stats() map[string]CameraStats {
	out := map[string]CameraStats{}
	for _, w := range p.list() {
		out[w.name] = CameraStats{Frames: w.frames.Load(), Failed: w.failed.Load(), Cost: time.Duration(w.costNS.Load())}
	}
	return out
}

// RegionStates returns each region's current state, by camera and region.
// It reads what the infer loops own, so it is for tests and shutdown, once
// Run has returned.
func (p *Pipeline) RegionStates() map[string]map[string]State {
	out := map[string]map[string]State{}
	for _, w := range p.list() {
		for _, u := range w.units {
			if u.track == nil {
				continue
			}
			if out[w.name] == nil {
				out[w.name] = map[string]State{}
			}
			out[w.name][u.name] = u.track.cur
		}
	}
	return out
}
