// Package pipeline runs edged's per-camera data path: capture → preprocess →
// infer → decide → publish. Each camera has its own capture goroutine, its
// own infer loop and its own publishing goroutine, so a slow or broken
// camera never stalls the others, and capture overlaps inference. The
// cameras on one model share its sessions when the model has a pool
// (pool.go), or each opens its own.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/decide"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samples"
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
	Model  *Model        // the model this camera's frames go through (without regions)
	Filter decide.Config // the publish filter, applied to each region's results on their own
	Gate   Gate          // nil: every frame is inferred
	// Regions, when set, are classified instead of the whole frame: each
	// frame is decoded once and every region's crop is cut from it.
	Regions []RegionSpec
	Samples Samples // the whole frame's sample keeping (without regions)
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
	// Deliverable, when set, tells whether the sink can take results now
	// (the broker is connected). At shutdown the drain ends as soon as it
	// says no: waiting for a broker that is away only delays the exit.
	Deliverable func() bool
	// Metrics receives the per-camera counters and stage latencies. Nil
	// keeps them on a private registry nobody reads.
	Metrics *metrics.Metrics
	// Observer, when set, sees every inferred result.
	Observer Observer
	// States receives the regions' state changes; nil keeps states to
	// the results' region field.
	States StateSink
	// Restore gives a region's state from before a restart; nil or a
	// false ok starts it Unknown.
	Restore func(camera, region string) (State, bool)
	// Samples keeps the crops units' samples settings ask for; nil keeps
	// none.
	Samples *samples.Keeper
	// Batch is how regions on one model are invoked: BatchAuto (""), a
	// batch when the runtime takes one and it measured faster at start;
	// BatchOn, a batch whenever the runtime takes one (benchmarks);
	// BatchOff, one crop per invoke.
	Batch string
}

// Pipeline runs a set of cameras.
type Pipeline struct {
	opts Options
	// mu guards workers (a reload may replace one) and the running state below.
	mu      sync.Mutex
	workers []*worker
	runCtx  context.Context // set by Run: replacement cameras run under it
	wg      sync.WaitGroup  // the running workers
	errs    []error         // what the workers that ended returned
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
	p.mu.Lock()
	p.runCtx = ctx
	for _, w := range p.workers {
		p.start(w)
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// start runs w under the pipeline's context. The caller holds p.mu.
func (p *Pipeline) start(w *worker) {
	ctx, stop := context.WithCancelCause(p.runCtx)
	w.stopCause, w.done = stop, make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(w.done)
		err := w.run(ctx)
		if errors.Is(context.Cause(ctx), errReplaced) {
			err = nil // replaced (a reload), not the run ending
		}
		if err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}
	}()
}

// list is a copy of the workers, for reading without holding p.mu.
func (p *Pipeline) list() []*worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.workers)
}

// errReplaced is the cause a replaced camera's run is cancelled with.
var errReplaced = errors.New("camera replaced by a new configuration")

// replace puts nw in old's place. While old runs, it stops the way a run
// ends (what it inferred is handed to the sink) before nw starts, so the
// source is never open twice, and Run keeps waiting across the swap.
// Before Run, nw is simply the one Run starts; after old's input ended,
// nw is kept for Close but not run.
func (p *Pipeline) replace(old, nw *worker) error {
	p.mu.Lock()
	i := slices.Index(p.workers, old)
	if i < 0 {
		p.mu.Unlock()
		nw.close()
		return fmt.Errorf("camera %q: replaced already", old.name)
	}
	p.workers[i] = nw
	running := false
	if old.stopCause != nil {
		select {
		case <-old.done:
		default:
			running = true
			p.wg.Add(1)
		}
	}
	p.mu.Unlock()
	if running {
		old.stopCause(errReplaced)
		<-old.done
	}
	err := old.close()
	if running {
		p.mu.Lock()
		p.start(nw)
		p.mu.Unlock()
		p.wg.Done()
	}
	return err
}

// States reports each camera's capture state, by camera name.
func (p *Pipeline) States() map[string]result.Status {
	out := map[string]result.Status{}
	for _, w := range p.list() {
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
	for _, w := range p.list() {
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
	for _, w := range p.list() {
		errs = append(errs, w.close())
	}
	return errors.Join(errs...)
}
