// Package pipeline runs edged's per-camera data path: capture → preprocess →
// infer → decide → publish. Each camera has its own capture goroutine, its
// own inference session and its own publishing goroutine, so a slow or
// broken camera never stalls the others, and capture overlaps inference.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/decide"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
)

// Sink receives the results that pass a camera's filter, in order per camera.
// *publish.Sink is the production one: it encodes each result once for the
// queue, MQTT and stdout.
//
// r and its labels belong to the pipeline, which reuses them for a later
// frame once Publish returns: a sink encodes or copies what it keeps.
type Sink interface {
	Publish(ctx context.Context, camera string, r *result.Result) error
}

// queued is how many results wait for a camera's publishing goroutine
// before inference waits for it (back-pressure: nothing is dropped).
const queued = 64

// CameraSpec is what the pipeline needs to know about one camera.
type CameraSpec struct {
	Camera camera.Config // source, rate cap, ROI/resize (the resize size is filled in from the model)
	Model  *Model        // the model this camera's frames go through
	Filter decide.Config
	Gate   Gate // nil: every frame is inferred
}

// Gate decides whether a camera's next frame is inferred (a GPIO input
// gating the camera). Frames it refuses are counted as gated and released.
type Gate interface {
	Allow() bool
}

// Observer sees every inferred result, before the publish filter (GPIO
// output rules). It is called from the camera's inference goroutine, so it
// must not block, and it must not keep the result.
type Observer interface {
	Observe(camera string, r *result.Result)
}

// Options configure a pipeline run.
type Options struct {
	Cameras []CameraSpec
	Sink    Sink
	Log     *slog.Logger
	// DrainTimeout bounds how long results still queued at shutdown are
	// given to reach the sink. Zero means 10 seconds.
	DrainTimeout time.Duration
	// Metrics receives the per-camera counters and stage latencies. Nil
	// keeps them on a private registry nobody reads.
	Metrics *metrics.Metrics
	// Observer, when set, sees every inferred result.
	Observer Observer
}

// Pipeline runs a set of cameras.
type Pipeline struct {
	opts    Options
	workers []*worker
}

// New checks the options and prepares one worker per camera. Nothing runs
// until Run.
func New(opts Options) (*Pipeline, error) {
	if opts.Sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	if len(opts.Cameras) == 0 {
		return nil, errors.New("pipeline: no cameras")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New(metrics.BuildInfo{})
	}
	p := &Pipeline{opts: opts}
	for _, spec := range opts.Cameras {
		w, err := newWorker(spec, opts)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.workers = append(p.workers, w)
	}
	return p, nil
}

// Run processes frames until ctx ends or every camera reached the end of its
// input (files and folders without looping). It returns nil in both cases;
// results already inferred when ctx ends are still handed to the sink.
func (p *Pipeline) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(p.workers))
	for i, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// States reports each camera's capture state, by camera name.
func (p *Pipeline) States() map[string]result.Status {
	out := make(map[string]result.Status, len(p.workers))
	for _, w := range p.workers {
		out[w.name] = w.cam.State()
	}
	return out
}

// Stalls lists the cameras whose capture (one open or read of the source)
// or inference (one frame's conversion, invoke and post-processing) has run
// for longer than limit at now: a hung device, stream or engine. Waiting
// for frames or for the sink, reconnect back-off and a finished file are
// not stalls.
func (p *Pipeline) Stalls(now time.Time, limit time.Duration) []string {
	var out []string
	for _, w := range p.workers {
		if d := w.cam.Busy(now); d > limit {
			out = append(out, fmt.Sprintf("camera %q: capture stuck for %v", w.name, d.Round(time.Second)))
		}
		if t := w.inferSince.Load(); t != 0 {
			if d := now.Sub(time.Unix(0, t)); d > limit {
				out = append(out, fmt.Sprintf("camera %q: inference stuck for %v", w.name, d.Round(time.Second)))
			}
		}
	}
	return out
}

// Close releases the cameras and sessions. It is safe to call twice.
func (p *Pipeline) Close() error {
	var errs []error
	for _, w := range p.workers {
		errs = append(errs, w.close())
	}
	return errors.Join(errs...)
}

// worker owns one camera's capture, session and result queue.
type worker struct {
	name string
	log  *slog.Logger
	cam  *camera.Camera
	// mu guards model, sess, input, conv and post: the infer loop holds it
	// for one frame's conversion, invoke and post-processing, and a reload
	// (Swap.Apply) takes it to replace them between two frames.
	mu    sync.Mutex
	model *Model
	sess  infer.Session
	input []byte // sess.InputBuffer(0)
	conv  *preprocess.Converter
	post  *infer.Postprocessor
	// pendingFilter (guarded by mu) is a publish filter a reload brought;
	// the infer loop hands it on through nextFilter so that it applies from
	// the first result inferred after the reload, not to results queued
	// before it.
	pendingFilter *decide.Filter
	filterCfg     decide.Config // what the newest filter was made from (TopK filled in)
	nextFilter    atomic.Pointer[filterSwap]
	// filter is the publish filter and taken the number of results it has
	// been given: both belong to the publishing goroutine.
	filter *decide.Filter
	taken  uint64
	sink   Sink
	drain  time.Duration
	met    *metrics.Camera
	// free holds the camera's reusable results: every result is either
	// here, being filled by the infer loop, queued, or being published.
	free chan *result.Result
	// inferSince is when the running convert, invoke and post-processing
	// began (unix ns); 0 when the infer loop is not inside one.
	inferSince atomic.Int64
	// inferCost (guarded by mu) is a moving average of one frame's
	// convert, invoke and post-processing; file sources read the next
	// frame to be ready then. A new model starts it from its warm-up.
	inferCost time.Duration
	gate      Gate     // nil: every frame is inferred
	obs       Observer // nil: nobody watches results

	once sync.Once
}

func newWorker(spec CameraSpec, opts Options) (*worker, error) {
	name := spec.Camera.Name
	if spec.Model == nil {
		return nil, fmt.Errorf("camera %q: no model", name)
	}
	st, err := openStages(name, spec.Model)
	if err != nil {
		return nil, err
	}
	w := &worker{name: name, sink: opts.Sink, drain: opts.DrainTimeout,
		met: opts.Metrics.Camera(name), gate: spec.Gate, obs: opts.Observer,
		log: opts.Log.With("camera", name, "model", spec.Model.Name)}
	w.use(st)
	in := st.sess.Inputs()[0]
	h, wd := in.Shape[1], in.Shape[2]
	cfg := spec.Camera
	cfg.Spec.Width, cfg.Spec.Height = wd, h
	cfg.Spec.BGR = spec.Model.BGR
	w.free = make(chan *result.Result, queued+2)
	for range cap(w.free) {
		w.free <- &result.Result{Labels: make([]result.Label, 0, max(spec.Model.Post.TopK, 1))}
	}
	if w.filterCfg, w.filter, err = newFilter(name, spec.Filter, spec.Model); err != nil {
		st.sess.Close()
		return nil, err
	}
	if w.cam, err = camera.New(cfg, w.log); err != nil {
		st.sess.Close()
		return nil, fmt.Errorf("camera %q: %w", name, err)
	}
	return w, nil
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
	results := make(chan *result.Result, queued)
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

// inferLoop takes frames, converts them straight into the session's input
// tensor, invokes the model and queues the result. In the steady state it
// allocates nothing: frames and results are reused.
func (w *worker) inferLoop(ctx context.Context, out chan<- *result.Result) error {
	var r *result.Result
	var queuedN uint64 // results handed to the publishing goroutine
	for {
		if r == nil {
			select {
			case r = <-w.free:
			case <-ctx.Done():
				return nil
			}
		}
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
		t0 := time.Now()
		w.inferSince.Store(t0.UnixNano())
		w.mu.Lock() // a reload swaps the model between frames, never within one
		w.cam.WantNextAt(t0.Add(w.inferCost))
		if w.pendingFilter != nil {
			w.nextFilter.Store(&filterSwap{f: w.pendingFilter, from: queuedN})
			w.pendingFilter = nil
		}
		err = w.conv.Convert(w.input, f.Pixels)
		t1 := time.Now()
		if err == nil {
			err = w.sess.Invoke()
		}
		if err == nil {
			*r = result.Result{
				Frame:    f.Number,
				Captured: f.Captured,
				File:     f.File,
				Model:    w.model.Ref,
				Labels:   r.Labels[:0],
			}
			r.Labels, err = w.post.TopK(w.sess.OutputBuffer(w.model.Out), r.Labels)
		}
		t2 := time.Now()
		w.inferCost = ema(w.inferCost, t2.Sub(t0)) // under mu: a reload resets it
		w.mu.Unlock()
		w.inferSince.Store(0)
		if err != nil {
			// A frame the model cannot take is skipped; the camera goes on.
			w.met.Failed.Inc()
			w.log.Warn("frame skipped", "frame", f.Number, "err", err)
			w.cam.Release(f)
			continue
		}
		r.Latency = result.Latency{
			Capture:    f.ReadDur,
			Preprocess: f.ResizeDur + t1.Sub(t0),
			Infer:      t2.Sub(t1),
			Total:      t2.Sub(f.Captured), // Captured is when the read began
		}
		w.cam.Release(f)
		w.met.Inferred.Inc()
		metrics.Observe(w.met.Capture, r.Latency.Capture)
		metrics.Observe(w.met.Preprocess, r.Latency.Preprocess)
		metrics.Observe(w.met.Infer, r.Latency.Infer)
		if w.obs != nil {
			w.obs.Observe(w.name, r)
		}
		select {
		case out <- r:
			r = nil
			queuedN++
		case <-ctx.Done():
			return nil
		}
	}
}

// publishLoop applies the camera's filter and hands results to the sink. At
// shutdown it drains what is queued within the drain timeout.
func (w *worker) publishLoop(ctx context.Context, in <-chan *result.Result) error {
	// Once ctx ends, what is still queued gets the drain timeout to reach
	// the sink, so results already inferred are not lost on shutdown.
	drainCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.drain, cancel)
		context.AfterFunc(drainCtx, func() { t.Stop() })
	})
	defer stop()
	for r := range in {
		w.publish(drainCtx, r)
		w.free <- r // never blocks: free has room for every result
	}
	return nil
}

// publish hands r to the sink if the camera's filter lets it through.
func (w *worker) publish(ctx context.Context, r *result.Result) {
	t0 := time.Now()
	if s := w.nextFilter.Load(); s != nil && w.taken >= s.from {
		// The first result inferred after a reload: its publish settings
		// apply from here on.
		w.filter = s.f
		w.nextFilter.CompareAndSwap(s, nil)
	}
	w.taken++
	if !w.filter.Accept(r, t0) {
		return
	}
	if err := w.sink.Publish(ctx, w.name, r); err != nil {
		w.met.PublishErrors.Inc()
		w.log.Error("publish failed", "frame", r.Frame, "err", err)
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
		errs = append(errs, w.sess.Close())
		w.mu.Unlock()
		err = errors.Join(errs...)
	})
	return err
}
