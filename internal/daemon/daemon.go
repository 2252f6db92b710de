// Package daemon turns a configuration into a running edged: it opens the
// inference engine, loads the models, starts the embedded broker when no
// broker is configured, connects the publisher, and runs the pipeline until
// the context ends or every finite source is done. Shutdown runs in the
// reverse order: capture stops, in-flight results are published, "offline"
// is announced, the broker stops.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/gpio"
	"github.com/edged-io/edged/internal/homeassistant"
	"github.com/edged-io/edged/internal/inbox"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/engines"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/publish/broker"
	"github.com/edged-io/edged/internal/publish/mqtt"
	"github.com/edged-io/edged/internal/regionedit"
	"github.com/edged-io/edged/internal/regionstate"
	"github.com/edged-io/edged/internal/samples"
	"github.com/edged-io/edged/internal/sdnotify"
	"github.com/edged-io/edged/internal/statusapi"
)

// DefaultModelFile is the file name of the bundled default model.
const DefaultModelFile = "efficientnet_lite0_int8.tflite"

// Options configure a run.
type Options struct {
	Config *config.Config
	Stdout io.Writer // when set, every published result is also written here as a JSON line
	// Outputs are more places every result and state goes to (the
	// terminal's live view).
	Outputs   []publish.Output
	NoMQTT    bool   // only the Stdout sink: no broker, embedded or not
	TFLiteLib string // explicit runtime library path; empty searches the usual places
	LiteRTLib string // explicit LiteRT library path; empty searches the usual places
	// Engine, when set, is used instead of opening the configured one
	// (tests give internal/infer/infertest's fake).
	Engine  engines.Engine
	Log     *slog.Logger
	Version string // edged's version, for edged_build_info
	// GPIOPins resolves GPIO pin names; nil uses the machine's (periph's
	// host drivers). Tests give periph's gpiotest pins.
	GPIOPins func(name string) gpio.Pin
	// Reload: each value received (SIGHUP) re-reads the configuration with
	// LoadConfig and the model files, and swaps in what changed; see
	// docs/operations.md. LoadConfig nil re-reads only the models.
	Reload     <-chan os.Signal
	LoadConfig func() (*config.Config, error)
	// ConfigPath is the configuration file's path, when there is one: a
	// deployed configuration's relative paths are taken from its folder.
	ConfigPath string
	// ShutdownTimeout bounds how long Run waits, once ctx ends, for the
	// cameras and inference to stop; past it Run returns ErrStuck naming
	// the stuck stages. Zero means 15 seconds.
	ShutdownTimeout time.Duration
}

// DefaultModelPath finds the bundled default model: $EDGED_MODEL_DIR, the
// source tree's models/ beside bin/, an installed package's share folder,
// or ./models.
func DefaultModelPath() (string, error) {
	var c []string
	if d := os.Getenv("EDGED_MODEL_DIR"); d != "" {
		c = append(c, filepath.Join(d, DefaultModelFile))
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		c = append(c, filepath.Join(dir, "..", "models", DefaultModelFile),
			filepath.Join(dir, "..", "share", "edged", "models", DefaultModelFile))
	}
	c = append(c, filepath.Join("/usr/share/edged/models", DefaultModelFile), filepath.Join("models", DefaultModelFile))
	for _, p := range c {
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p), nil
		}
	}
	return "", fmt.Errorf("the bundled default model %s was not found in %v; give a model with --model or models[].path", DefaultModelFile, c)
}

// Hostname returns the host name as a valid device id.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "edged"
	}
	out := []rune{}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
	}
	return string(out)
}

// Daemon is one configured edged. New starts every part but the cameras
// (GPIO, engine, models, broker and publisher, queue, pipeline, HTTP
// endpoint); Run runs the cameras until the context ends or every input has
// ended; Close releases what New took, in the reverse order, however far
// New got.
type Daemon struct {
	opts    Options
	cfg     *config.Config
	log     *slog.Logger
	device  string
	boot    string
	started time.Time
	closers []func() // popped by Close, last pushed first

	led    *ledHealth
	gp     *gpioHook
	engine engines.Engine
	met    *metrics.Metrics
	reg    *infer.Registry
	models map[string]*pipeline.Model // by name; reloads update it in place, Close closes what it holds
	pub    *mqtt.Publisher            // nil without MQTT
	stdout *publish.Stdout            // nil without Options.Stdout
	states *regionstate.Store         // nil without regions
	keeper *samples.Keeper            // nil when no camera keeps samples
	ha     *homeassistant.Announcer   // nil without discovery
	q      *queue                     // the outbound queue in front of pub; nil when disabled
	p      *pipeline.Pipeline
	sink   *publish.Sink
	rl     *reloader
	srv    *statusapi.Server // nil without http.addr
	fleet  *fleetPart        // nil unless fleet.enabled
	edits  *regionedit.Store // regions applied from the live view's editor
}

// Run runs edged until ctx ends or every camera's input has ended.
func Run(ctx context.Context, opts Options) error {
	d, err := New(ctx, opts)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // stopped while starting
		}
		return err
	}
	err = d.Run(ctx)
	if !errors.Is(err, ErrStuck) {
		// (With a stage stuck, closing would free what it still uses:
		// that is left to the process's exit.)
		d.Close()
	}
	return err
}

// push adds a release step for Close.
func (d *Daemon) push(f func()) { d.closers = append(d.closers, f) }

// Close releases everything New started, in the reverse order. It is safe
// to call twice.
func (d *Daemon) Close() error {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
	return nil
}

// New starts the parts of a run described by opts.Config, or returns the
// first error after releasing what it had started. A ctx ending while the
// broker is first reached returns ctx's error.
func New(ctx context.Context, opts Options) (_ *Daemon, err error) {
	d := &Daemon{opts: opts, cfg: opts.Config, log: opts.Log, started: time.Now(), led: &ledHealth{},
		models: map[string]*pipeline.Model{}}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.log == nil {
		d.log = slog.Default()
	}
	d.device = d.cfg.Device
	if d.device == "" {
		d.device = Hostname()
	}
	d.edits = regionedit.Open(filepath.Join(StateDir(d.cfg.StateDir), "regions-edited-"+d.device+".json"))
	d.cfg = d.withEdits(d.cfg)
	if os.Getenv("OPENCV_FFMPEG_CAPTURE_OPTIONS") == "" {
		// Process-wide, so set once here before any camera goroutine runs.
		os.Setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", camera.FFmpegOptions)
	}
	for _, start := range []func(context.Context) error{
		d.startGPIO, // first: a missing pin fails before anything loads
		d.startEngine,
		d.openFleet, // before the models: a restart runs what was deployed
		d.loadModels,
		d.startHTTP, // before the broker: a busy address fails before "online" is announced
		d.startPipeline,
		d.startFleet,
	} {
		if err := start(ctx); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Daemon) startGPIO(ctx context.Context) error {
	gp, err := startGPIO(ctx, d.cfg.GPIO, gpio.Options{Log: d.log, Health: d.led, Lookup: d.opts.GPIOPins})
	if err != nil {
		return err
	}
	d.gp = gp
	d.push(gp.close)
	return nil
}

func (d *Daemon) startEngine(context.Context) error {
	engine := d.opts.Engine
	if engine == nil {
		var err error
		if engine, err = engines.Open(engineOptions(d.cfg, d.opts, d.log)); err != nil {
			return err
		}
	}
	d.engine = engine
	d.log.Info("inference engine ready", "engine", engine.Name(), "library", engine.LibraryPath())
	d.met = metrics.New(metrics.BuildInfo{Version: d.opts.Version})
	d.met.Engine(engine.Name(), engine.LibraryPath())
	return d.gp.register(d.met.Registry())
}

func (d *Daemon) loadModels(context.Context) error {
	d.reg = infer.NewRegistry(d.engine)
	d.push(func() {
		for _, m := range d.models {
			m.Close()
		}
	})
	for _, mc := range d.cfg.Models {
		spec, err := modelSpec(mc)
		if err != nil {
			return err
		}
		t0 := time.Now()
		m, err := pipeline.LoadModel(d.reg, spec)
		if err != nil {
			if field := usedBy(d.cfg, mc.Name); field != "" {
				return fmt.Errorf("%s: %w", field, err)
			}
			return err
		}
		d.models[mc.Name] = m
		took := time.Since(t0)
		d.met.ModelLoaded(mc.Name, spec.Path, m.Ref.SHA256, took)
		d.log.Info("model loaded", "model", mc.Name, "path", spec.Path, "sha256", m.Ref.SHA256,
			"labels", len(m.Labels), "load_ms", took.Milliseconds())
	}
	return nil
}

// startOutputs starts what results go to: stdout, and unless MQTT is off
// the broker (embedded when none is configured), the publisher and the
// queue in front of it.
func (d *Daemon) startOutputs(ctx context.Context) ([]publish.Output, error) {
	var outs []publish.Output
	if d.opts.Stdout != nil {
		d.stdout = publish.NewStdout(d.opts.Stdout)
		outs = append(outs, d.stdout)
	}
	outs = append(outs, d.opts.Outputs...)
	if d.opts.NoMQTT {
		return outs, nil
	}
	bcfg := d.cfg.Broker
	if bcfg.URL == "" {
		url, err := d.startEmbedded(bcfg.EmbeddedAddr)
		if err != nil {
			return nil, err
		}
		bcfg.URL = url
	}
	pub, err := mqtt.New(bcfg, d.device, d.log)
	if err != nil {
		return nil, err
	}
	d.pub = pub
	closeCtx := context.WithoutCancel(ctx)
	d.push(func() { pub.Close(closeCtx) })
	if err := pub.Connect(ctx); err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, mqtt.ErrRefused):
			// Credentials or certificates are wrong: retrying cannot help.
			return nil, err
		}
		d.log.Warn("broker not reachable yet; results wait until it is", "err", err)
	}
	if !d.cfg.Queue.Enabled {
		return append(outs, pub), nil
	}
	// The queue belongs to one broker and device.
	target := bcfg.URL + " " + d.device
	if d.q, err = startQueue(ctx, d.cfg.Queue, d.cfg.StateDir, target, pub, d.met, d.log); err != nil {
		return nil, err
	}
	d.push(d.q.close)
	return append(outs, d.q.ob), nil
}

// startEmbedded starts the embedded broker on addr and returns its URL.
// When the port is taken by a broker already (Debian's mosquitto starts on
// 1883 once installed), results go to that one instead, and the log says
// so; when it is taken by something else, the error says what to change.
func (d *Daemon) startEmbedded(addr string) (string, error) {
	eb, err := broker.Start(addr, d.log)
	switch {
	case err == nil:
		d.push(func() { eb.Close() })
		d.log.Info("no broker configured: started the embedded MQTT broker", "addr", addr)
		return eb.URL(), nil
	case errors.Is(err, broker.ErrBusy) && broker.IsMQTT(addr, 2*time.Second):
		d.log.Warn("no broker configured and an MQTT broker already listens on the embedded broker's address: publishing to it (set broker.url to say so, or broker.embedded_addr to run the embedded one elsewhere)",
			"addr", addr)
		return "tcp://" + addr, nil
	case errors.Is(err, broker.ErrBusy):
		return "", fmt.Errorf("%w; it is not an MQTT broker: free the port, or set broker.embedded_addr to another loopback address (or broker.url to a broker)", err)
	}
	return "", err
}

func (d *Daemon) startPipeline(ctx context.Context) error {
	d.boot = publish.NewBootID()
	outs, err := d.startOutputs(ctx)
	if err != nil {
		return err
	}
	if len(outs) == 0 {
		return errors.New("no sink: enable MQTT or --stdout")
	}
	sink := publish.NewSink(publish.Identity{Device: d.device, Boot: d.boot, TopicPrefix: d.cfg.Broker.TopicPrefix}, outs...)
	d.sink = sink
	var cams []pipeline.CameraSpec
	for i, cc := range d.cfg.Cameras {
		cams = append(cams, cameraSpec(i, cc, d.models, d.gp.gate(cc.Name)))
	}
	popts := pipeline.Options{Cameras: cams, Sink: sink, Log: d.log, Metrics: d.met, Observer: d.gp.observer()}
	if d.pub != nil && d.q == nil {
		// Without the queue, results in memory at shutdown go straight to
		// the broker: when it is away there is nothing to wait for.
		popts.Deliverable = d.pub.Connected
	}
	if keepsSamples(d.cfg) {
		d.keeper = samples.New(filepath.Join(StateDir(d.cfg.StateDir), "samples"), d.log)
		popts.Samples = d.keeper
		d.log.Info("keeping samples", "dir", d.keeper.Dir())
	}
	if err := d.openStates(&popts); err != nil {
		return err
	}
	p, err := pipeline.New(popts)
	if err != nil {
		return err
	}
	if err := d.announceRestored(ctx); err != nil {
		return err
	}
	d.p = p
	d.push(func() { p.Close() })
	if d.srv != nil {
		d.srv.ServeLive(d.liveFrame, d.latest)
		d.srv.ServeRegionEditor(&regionEditor{d: d})
	}
	d.met.WatchCameras(p.States)
	load := d.opts.LoadConfig
	if load == nil {
		// The configuration as given: the editor's regions are laid over it.
		load = func() (*config.Config, error) { return d.opts.Config, nil }
	}
	if d.fleet != nil {
		load = d.fleet.load(load)
	}
	load = d.editedLoad(load)
	d.rl = newReloader(d.cfg, load, d.reg, p, d.models, d.met, d.log,
		func(i int, cc config.Camera, models map[string]*pipeline.Model) pipeline.CameraSpec {
			return cameraSpec(i, cc, models, d.gp.gate(cc.Name))
		})
	snapshot := d.snapshot
	d.led.snapshot.Store(&snapshot)
	return nil
}

// liveFrame is the live view's snapshot of a camera.
func (d *Daemon) liveFrame(ctx context.Context, camera string, since time.Time, overlay bool) (statusapi.Frame, error) {
	s, err := d.p.Snapshot(ctx, camera, since, overlay)
	if errors.Is(err, pipeline.ErrNoCamera) {
		return statusapi.Frame{}, statusapi.ErrNoCamera
	}
	if err != nil {
		return statusapi.Frame{}, err
	}
	f := statusapi.Frame{JPEG: s.JPEG, Number: s.Frame, Captured: s.Captured}
	if overlay {
		f.JPEG = s.Overlay
	}
	return f, nil
}

// snapshot is the daemon's state for /healthz, the status LED and systemd.
func (d *Daemon) snapshot() statusapi.Snapshot {
	s := statusapi.Snapshot{Version: d.opts.Version, Device: d.device, Boot: d.boot, Started: d.started,
		Cameras: d.p.States(), Models: d.rl.modelInfo(), Reload: d.rl.lastReload(),
		Stalls: d.p.Stalls(time.Now(), statusapi.StallAfter),
		Engine: statusapi.Engine{Name: d.engine.Name(), Library: d.engine.LibraryPath()}}
	if d.fleet != nil && d.fleet.agent != nil {
		s.Deploy = d.fleet.deployInfo()
	}
	s.Inference = map[string]statusapi.CameraInference{}
	for name, st := range d.p.Stats() {
		s.Inference[name] = statusapi.CameraInference{Frames: st.Frames, InferMS: float64(st.Cost.Microseconds()) / 1000}
	}
	if d.q != nil {
		qs := d.q.ob.Stats()
		s.Queue = &statusapi.Queue{Depth: qs.Depth, Bytes: qs.Bytes}
	}
	if d.pub != nil {
		b := &statusapi.Broker{URL: d.pub.URL(), Connected: d.pub.Connected()}
		// With the queue, results are safe once accepted: ready without a
		// broker.
		b.Ready = b.Connected || (d.q != nil && d.q.ob.Ready())
		if err := d.pub.LastError(); err != nil {
			b.LastError = err.Error()
		}
		s.Broker = b
	}
	return s
}

func (d *Daemon) startHTTP(context.Context) error {
	if d.cfg.HTTP.Addr == "" {
		return nil
	}
	token, err := readToken(d.cfg.HTTP)
	if err != nil {
		return err
	}
	if hc := d.cfg.HTTP; hc.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(hc.TLSCert, hc.TLSKey); err != nil {
			return fmt.Errorf("http.tls_cert: %w", err)
		}
	}
	srv, err := statusapi.Listen(d.cfg.HTTP.Addr, d.met.Handler(), d.snapshot, d.log)
	if err != nil {
		return err
	}
	srv.SetAccess(statusapi.Access{Token: token})
	if d.cfg.HTTP.TLSCert != "" {
		srv.UseTLS(d.cfg.HTTP.TLSCert, d.cfg.HTTP.TLSKey)
	}
	state := StateDir(d.cfg.StateDir)
	srv.ServeSamples(inbox.New(filepath.Join(state, "samples"), filepath.Join(state, "dataset")))
	d.srv = srv
	d.push(func() { srv.Close() })
	d.log.Info("serving /metrics, /healthz and /readyz", "addr", srv.Addr().String())
	if a, ok := srv.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && token == "" {
		d.log.Warn("http.addr is not loopback and no http.token_file is set: only /metrics, /healthz and /readyz are served there; the live view, camera images and samples need the token")
	}
	return nil
}

// minToken is the shortest token accepted: 16 characters.
const minToken = 16

// readToken reads the HTTP token from http.token_file or the systemd
// credential http.token_credential; "" when neither is set.
func readToken(h config.HTTP) (string, error) {
	path, field := h.TokenFile, "http.token_file"
	if h.TokenCredential != "" {
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", errors.New("http.token_credential: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)")
		}
		path, field = filepath.Join(dir, h.TokenCredential), "http.token_credential"
	}
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	tok := strings.TrimSpace(line)
	if len(tok) < minToken {
		return "", fmt.Errorf("%s %s: the token is %d characters, at least %d are needed (openssl rand -hex 16)", field, path, len(tok), minToken)
	}
	return tok, nil
}

// Run runs the cameras until ctx ends or every input has ended, serving
// the HTTP endpoint, systemd's notifications and reloads meanwhile; then
// the queue gets a moment to drain. Close releases the rest.
func (d *Daemon) Run(ctx context.Context) error {
	if d.stdout != nil {
		// `edged run --stdout | head`: the reader leaving ends the run
		// the way a signal does.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-d.stdout.Closed():
				cancel(publish.ErrReaderGone)
			case <-ctx.Done():
			}
		}()
	}
	runCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	var wg sync.WaitGroup
	defer wg.Wait()
	if d.srv != nil {
		wg.Go(func() {
			if err := d.srv.Run(runCtx); err != nil {
				d.log.Error("http endpoint stopped", "err", err)
			}
		})
	}
	// Under systemd (Type=notify): READY=1 once serving, status lines,
	// and watchdog pings while the pipeline makes progress.
	notify, err := sdnotify.New(os.Getenv)
	if err != nil {
		return err
	}
	sup := &supervisor{notify: notify, snapshot: d.snapshot, stalls: d.p.Stalls, log: d.log, tick: 250 * time.Millisecond}
	supDone := make(chan struct{})
	go func() { sup.run(runCtx); close(supDone) }()
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-d.opts.Reload:
				sup.reloading()
				d.rl.reload()
				returnIdleHeap()
				sup.reloaded()
			}
		}
	}()

	if d.fleet != nil {
		wg.Go(func() { d.fleet.agent.Run(runCtx) })
	}
	if d.ha != nil {
		wg.Go(func() { d.ha.Run(runCtx) })
		wg.Go(func() { d.publishStats(runCtx, 15*time.Second) })
	}
	keeperDone := make(chan struct{})
	stopKeeper := func() {}
	if d.keeper != nil {
		// Its own context: samples offered while the pipeline drains are
		// still written.
		kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stopKeeper = cancel
		go func() { d.keeper.Run(kctx); close(keeperDone) }()
	} else {
		close(keeperDone)
	}
	d.log.Info("edged running", "device", d.device, "cameras", len(d.cfg.Cameras), "boot", d.boot)
	if err = d.runPipeline(ctx); errors.Is(err, ErrStuck) {
		stopKeeper()
		return err // a stage will not return: nothing more can be stopped in order
	}
	stopKeeper()
	<-keeperDone
	if d.keeper != nil {
		kept, dropped := d.keeper.Stats()
		d.log.Info("samples", "kept", kept, "dropped", dropped, "dir", d.keeper.Dir())
	}
	d.log.Info("edged stopping", "reason", stopReason(ctx))
	if d.q != nil {
		d.q.drain(ctx, 10*time.Second)
	}
	stopServing()
	<-supDone
	<-reloadDone // the models it may have swapped in are closed by Close
	if nerr := notify.Stopping("stopping: " + stopReason(ctx)); nerr != nil {
		d.log.Warn("systemd notification failed", "notification", "STOPPING", "err", nerr)
	}
	if err == nil && ctx.Err() == nil && d.sink.Encoded() == 0 {
		// Every input ended and nothing came of it: say so, and fail.
		return ErrNoResults
	}
	return err
}

// ErrNoResults is Run's error when every input ended without one result
// (a folder of undecodable images, an ROI outside every frame).
var ErrNoResults = errors.New("no results: every input ended without a usable frame (the warnings above say why: decode errors, frame sizes, the ROI)")

// ErrStuck is wrapped by Run's error when a stage did not return within the
// shutdown deadline after the context ended (a read or an invoke blocked
// inside C). The process should then exit: Run has not released what the
// stuck stage may still use.
var ErrStuck = errors.New("shutdown deadline passed with a stage still running")

// runPipeline runs the pipeline until it returns, or until the shutdown
// deadline after ctx ends, when it returns ErrStuck naming the stages that
// have not come back.
func (d *Daemon) runPipeline(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- d.p.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	deadline := d.opts.ShutdownTimeout
	if deadline == 0 {
		deadline = 15 * time.Second
	}
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	stuck := d.p.Stalls(time.Now(), 0)
	if len(stuck) == 0 {
		stuck = []string{"the pipeline (no stage reports a blocked call)"}
	}
	d.log.Error("shutdown deadline passed; exiting with stages still running", "deadline", deadline.String(), "stuck", strings.Join(stuck, "; "))
	return fmt.Errorf("%w after %v: %s", ErrStuck, deadline, strings.Join(stuck, "; "))
}

func stopReason(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), publish.ErrReaderGone) {
		return "standard output closed"
	}
	if ctx.Err() != nil {
		return "signal"
	}
	return "end of input"
}
