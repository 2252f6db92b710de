package daemon

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/statusapi"
)

// reloader re-reads the configuration and the models (SIGHUP) and swaps
// what changed into the running pipeline. What reloads live: the models
// (a changed file, labels, top_k, threshold, softmax, mean/std, threads,
// accelerate), which model a camera uses, each camera's publish settings,
// and its regions (the camera is restarted with them: its source is
// reopened, region states carry over). Everything else (cameras added or
// removed, a camera's source, rate, resize or reconnect settings, a
// model's input size or
// channel order, device, log, http, broker, gpio, queue) needs a restart: a
// reload logs which of those differ and leaves them as they run.
//
// A reload is all or nothing: every model is loaded and every camera's new
// session, converter, post-processor and filter is built beside the
// running ones first; any error rejects the whole reload with one log line
// and nothing running changes.
type reloader struct {
	load    func() (*config.Config, error)
	reg     *infer.Registry
	p       *pipeline.Pipeline
	met     *metrics.Metrics
	log     *slog.Logger
	running *config.Config // as started: restart-only keys are compared with it
	// spec builds camera i's pipeline spec from cc with the given models
	// (a camera restarted with new regions).
	spec func(i int, cc config.Camera, models map[string]*pipeline.Model) pipeline.CameraSpec
	// models holds the loaded models by name; the daemon closes what is in
	// it at exit, so a reload updates it in place.
	models map[string]*pipeline.Model
	info   atomic.Pointer[[]statusapi.Model]
	last   atomic.Pointer[statusapi.Reload] // nil until the first reload
	// mu serializes reloads and deployments, and guards models for the
	// fleet's canary checks.
	mu sync.Mutex
}

// preSwap checks the loaded models (by name) before they are swapped in;
// an error rejects the change.
type preSwap func(next map[string]*pipeline.Model) error

// newReloader takes over the models the daemon loaded from cfg.
func newReloader(cfg *config.Config, load func() (*config.Config, error), reg *infer.Registry, p *pipeline.Pipeline,
	models map[string]*pipeline.Model, met *metrics.Metrics, log *slog.Logger,
	spec func(i int, cc config.Camera, models map[string]*pipeline.Model) pipeline.CameraSpec) *reloader {
	r := &reloader{load: load, reg: reg, p: p, met: met, log: log, running: cfg, models: models, spec: spec}
	r.publishInfo(cfg)
	return r
}

// modelInfo is what the HTTP endpoint shows about the loaded models.
func (r *reloader) modelInfo() []statusapi.Model { return *r.info.Load() }

// lastReload is the outcome of the latest reload, nil before the first.
func (r *reloader) lastReload() *statusapi.Reload { return r.last.Load() }

func (r *reloader) publishInfo(cfg *config.Config) {
	var info []statusapi.Model
	for _, mc := range cfg.Models {
		m := r.models[mc.Name]
		info = append(info, statusapi.Model{Name: mc.Name, Path: m.Path, SHA256: m.Ref.SHA256, Labels: len(m.Labels)})
	}
	r.info.Store(&info)
}

// reload runs one reload and logs its outcome.
func (r *reloader) reload() {
	r.reloadFor("reload requested: re-reading the configuration and the models")
}

// reloadFor runs one reload, logged with why, records its outcome for
// /healthz and returns it.
func (r *reloader) reloadFor(why string) (changed, restart []string, err error) {
	r.log.Info(why)
	t0 := time.Now()
	changed, restart, err = r.apply(nil, nil)
	r.met.Reloaded(err == nil)
	if err != nil {
		r.last.Store(&statusapi.Reload{At: t0, Error: err.Error()})
		r.log.Error("reload rejected; the running configuration and models stay", "err", err)
		return nil, nil, err
	}
	r.last.Store(&statusapi.Reload{At: t0, Applied: true, Restart: restart})
	if len(restart) > 0 {
		r.log.Warn("reload: these changes need a restart of edged and were not applied", "keys", strings.Join(restart, ", "))
	}
	r.log.Info("reload done", "changed", strings.Join(changed, ", "), "took_ms", time.Since(t0).Milliseconds())
	return changed, restart, nil
}

// apply loads the new configuration (cfg, or what load reads when cfg is
// nil) and models and swaps them in once check (when set) passes. It
// returns what changed and the restart-only keys that differ.
func (r *reloader) apply(cfg *config.Config, check preSwap) (changed, restart []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg == nil {
		if cfg, err = r.load(); err != nil {
			return nil, nil, err
		}
	}
	restart = restartKeys(r.running, cfg)

	next := map[string]*pipeline.Model{}
	var loaded []*pipeline.Model // new ones, closed if the reload fails
	took := map[*pipeline.Model]time.Duration{}
	fail := func(err error) ([]string, []string, error) {
		for _, m := range loaded {
			m.Close()
		}
		return nil, nil, err
	}
	for _, mc := range cfg.Models {
		spec, err := modelSpec(mc)
		if err != nil {
			return fail(err)
		}
		t0 := time.Now()
		m, err := pipeline.LoadModel(r.reg, spec) // reads the file once; unchanged bytes are shared
		if err != nil {
			return fail(err)
		}
		if old := r.models[mc.Name]; old != nil && old.Same(m) {
			m.Close()
			next[mc.Name] = old
			continue
		}
		loaded = append(loaded, m)
		next[mc.Name] = m
		took[m] = time.Since(t0)
		r.log.Info("reload: model loaded beside the running one", "model", mc.Name, "path", spec.Path,
			"sha256", m.Ref.SHA256, "labels", len(m.Labels), "load_ms", took[m].Milliseconds())
	}

	updates := map[string]pipeline.CameraUpdate{}
	regioned := map[string][]config.Region{} // cameras restarted with other regions
	for _, rc := range r.running.Cameras {
		i := slices.IndexFunc(cfg.Cameras, func(c config.Camera) bool { return c.Name == rc.Name })
		if i < 0 {
			continue // removed: needs a restart, listed in restart
		}
		cc := cfg.Cameras[i]
		m := next[cc.Model]
		if m == nil {
			return fail(fmt.Errorf("cameras[%d].model: no model named %q", i, cc.Model))
		}
		u := pipeline.CameraUpdate{Model: m, Filter: filterConfig(cc.Publish), Regions: regionModels(cc, next)}
		for region, rm := range u.Regions {
			if rm == nil {
				return fail(fmt.Errorf("cameras[%d]: region %q: its model is not loaded", i, region))
			}
		}
		if !reflect.DeepEqual(rc.Regions, cc.Regions) {
			// Other regions: the camera starts again with them.
			spec := r.spec(i, cc, next)
			u = pipeline.CameraUpdate{Restart: &spec}
			regioned[cc.Name] = cc.Regions
		}
		updates[cc.Name] = u
	}
	swap, err := r.p.Prepare(updates)
	if err != nil {
		return fail(err)
	}
	if check != nil {
		if err := check(next); err != nil {
			swap.Discard()
			return fail(err)
		}
	}
	cams := swap.Changed()
	if err := swap.Apply(); err != nil {
		r.log.Warn("reload: closing a replaced session failed", "err", err)
	}
	if len(regioned) > 0 {
		// Restart-only keys stay compared with what runs.
		running := *r.running
		running.Cameras = slices.Clone(r.running.Cameras)
		for j := range running.Cameras {
			if regs, ok := regioned[running.Cameras[j].Name]; ok {
				running.Cameras[j].Regions = regs
			}
		}
		r.running = &running
	}

	// Every camera now runs on next's models: close the replaced ones.
	keep := map[*pipeline.Model]bool{}
	for _, m := range next {
		keep[m] = true
	}
	for name, m := range r.models {
		if !keep[m] {
			m.Close()
		}
		delete(r.models, name)
	}
	for name, m := range next {
		r.models[name] = m
	}
	for _, m := range loaded {
		r.met.ModelLoaded(m.Name, m.Path, m.Ref.SHA256, took[m])
		changed = append(changed, fmt.Sprintf("model %s (%s)", m.Name, m.Ref.SHA256))
	}
	for _, c := range cams {
		if regs, ok := regioned[c]; ok {
			changed = append(changed, fmt.Sprintf("camera %s (restarted with %d regions)", c, len(regs)))
			continue
		}
		changed = append(changed, "camera "+c)
	}
	r.publishInfo(cfg)
	if len(changed) == 0 {
		changed = []string{"nothing"}
	}
	return changed, restart, nil
}

// restartKeys lists the settings in next that differ from running and only
// take effect at a restart.
func restartKeys(running, next *config.Config) []string {
	var out []string
	// Every top-level section but models and cameras (device, log, http,
	// broker, gpio, queue, and any added later) needs a restart.
	a, b := reflect.ValueOf(*running), reflect.ValueOf(*next)
	for f := range a.NumField() {
		tag, _, _ := strings.Cut(a.Type().Field(f).Tag.Get("yaml"), ",")
		if tag == "models" || tag == "cameras" {
			continue
		}
		if !reflect.DeepEqual(a.Field(f).Interface(), b.Field(f).Interface()) {
			out = append(out, tag)
		}
	}
	for _, rc := range running.Cameras {
		i := slices.IndexFunc(next.Cameras, func(c config.Camera) bool { return c.Name == rc.Name })
		if i < 0 {
			out = append(out, fmt.Sprintf("cameras: %q removed", rc.Name))
			continue
		}
		a, b := reflect.ValueOf(rc), reflect.ValueOf(next.Cameras[i])
		for f := range a.NumField() {
			field := a.Type().Field(f)
			tag, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
			if tag == "model" || tag == "publish" || tag == "regions" {
				continue // live
			}
			if !reflect.DeepEqual(a.Field(f).Interface(), b.Field(f).Interface()) {
				out = append(out, fmt.Sprintf("cameras[%d].%s", i, tag))
			}
		}
	}
	for _, nc := range next.Cameras {
		if !slices.ContainsFunc(running.Cameras, func(c config.Camera) bool { return c.Name == nc.Name }) {
			out = append(out, fmt.Sprintf("cameras: %q added", nc.Name))
		}
	}
	return out
}

// reloading tells systemd a reload has begun (RELOADING=1), once the
// daemon has said READY=1.
func (s *supervisor) reloading() {
	if s.readySent.Load() {
		s.send("RELOADING", s.notify.Reloading("reloading configuration and models"))
	}
}

// reloaded tells systemd the reload is over (READY=1 with the status line),
// whether it was applied or rejected.
func (s *supervisor) reloaded() {
	if s.readySent.Load() {
		s.send("READY", s.notify.Ready(summary(s.snapshot())))
	}
}
