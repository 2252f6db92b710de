// Package daemon turns a configuration into a running edged: it opens the
// inference engine, loads the models, starts the embedded broker when no
// broker is configured, connects the publisher, and runs the pipeline until
// the context ends or every finite source is done. Shutdown runs in the
// reverse order: capture stops, in-flight results are published, "offline"
// is announced, the broker stops.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/gpio"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/engines"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/publish/broker"
	"github.com/edged-io/edged/internal/publish/mqtt"
	"github.com/edged-io/edged/internal/sdnotify"
	"github.com/edged-io/edged/internal/statusapi"
)

// DefaultModelFile is the file name of the bundled default model.
const DefaultModelFile = "efficientnet_lite0_int8.tflite"

// Options configure a run.
type Options struct {
	Config    *config.Config
	Stdout    io.Writer // when set, every published result is also written here as a JSON line
	NoMQTT    bool      // only the Stdout sink: no broker, embedded or not
	TFLiteLib string    // explicit runtime library path; empty searches the usual places
	LiteRTLib string    // explicit LiteRT library path; empty searches the usual places
	Log       *slog.Logger
	Version   string // edged's version, for edged_build_info
	// GPIOPins resolves GPIO pin names; nil uses the machine's (periph's
	// host drivers). Tests give periph's gpiotest pins.
	GPIOPins func(name string) gpio.Pin
	// Reload: each value received (SIGHUP) re-reads the configuration with
	// LoadConfig and the model files, and swaps in what changed; see
	// docs/operations.md. LoadConfig nil re-reads only the models.
	Reload     <-chan os.Signal
	LoadConfig func() (*config.Config, error)
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

// Run runs edged until ctx ends or every camera's input has ended.
func Run(ctx context.Context, opts Options) error {
	cfg, log := opts.Config, opts.Log
	if log == nil {
		log = slog.Default()
	}
	device := cfg.Device
	if device == "" {
		device = Hostname()
	}
	if os.Getenv("OPENCV_FFMPEG_CAPTURE_OPTIONS") == "" {
		// Process-wide, so set once here before any camera goroutine runs.
		os.Setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", camera.FFmpegOptions)
	}
	led := &ledHealth{} // GPIO first: a missing pin fails before anything loads
	gp, err := startGPIO(ctx, cfg.GPIO, gpio.Options{Log: log, Health: led, Lookup: opts.GPIOPins})
	if err != nil {
		return err
	}
	defer gp.close()
	noXNN := false
	for _, m := range cfg.Models {
		noXNN = noXNN || m.Accelerate == "off"
	}
	engine, err := engines.Open(engines.Options{Choice: cfg.Engine, TFLiteLib: opts.TFLiteLib,
		LiteRTLib: opts.LiteRTLib, NoXNNPACK: noXNN, Log: log})
	if err != nil {
		return err
	}
	log.Info("inference engine ready", "engine", engine.Name(), "library", engine.LibraryPath())
	met := metrics.New(metrics.BuildInfo{Version: opts.Version})
	met.Engine(engine.Name(), engine.LibraryPath())
	if err := gp.register(met.Registry()); err != nil {
		return err
	}

	reg := infer.NewRegistry(engine)
	models := map[string]*pipeline.Model{}
	defer func() {
		for _, m := range models {
			m.Close()
		}
	}()
	for _, mc := range cfg.Models {
		spec, err := modelSpec(mc)
		if err != nil {
			return err
		}
		t0 := time.Now()
		m, err := pipeline.LoadModel(reg, spec)
		if err != nil {
			return err
		}
		models[mc.Name] = m
		took := time.Since(t0)
		met.ModelLoaded(mc.Name, spec.Path, m.Ref.SHA256, took)
		log.Info("model loaded", "model", mc.Name, "path", spec.Path, "sha256", m.Ref.SHA256,
			"labels", len(m.Labels), "load_ms", took.Milliseconds())
	}

	boot := publish.NewBootID()
	var outs []publish.Output
	if opts.Stdout != nil {
		outs = append(outs, publish.NewStdout(opts.Stdout))
	}
	var pub *mqtt.Publisher
	var q *queue // the outbound queue in front of pub; nil when disabled
	if !opts.NoMQTT {
		bcfg := cfg.Broker
		if bcfg.URL == "" {
			eb, err := broker.Start(bcfg.EmbeddedAddr, log)
			if err != nil {
				return err
			}
			defer eb.Close()
			bcfg.URL = eb.URL()
			log.Info("no broker configured: started the embedded MQTT broker", "addr", bcfg.EmbeddedAddr)
		}
		if pub, err = mqtt.New(bcfg, device, log); err != nil {
			return err
		}
		defer pub.Close(context.WithoutCancel(ctx))
		if err := pub.Connect(ctx); err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, mqtt.ErrRefused):
				// Credentials or certificates are wrong: retrying cannot help.
				return err
			}
			log.Warn("broker not reachable yet; results wait until it is", "err", err)
		}
		if cfg.Queue.Enabled {
			if q, err = startQueue(ctx, cfg.Queue, pub, met, log); err != nil {
				return err
			}
			defer q.close()
			outs = append(outs, q.ob)
		} else {
			outs = append(outs, pub)
		}
	}
	if len(outs) == 0 {
		return errors.New("no sink: enable MQTT or --stdout")
	}
	sink := publish.NewSink(publish.Identity{Device: device, Boot: boot, TopicPrefix: cfg.Broker.TopicPrefix}, outs...)

	var cams []pipeline.CameraSpec
	for _, cc := range cfg.Cameras {
		m := models[cc.Model]
		cams = append(cams, pipeline.CameraSpec{
			Camera: camera.Config{
				Name: cc.Name, Source: cc.Source, FPS: cc.FPS, Loop: cc.Loop,
				Spec:    preprocess.Spec{ROI: preprocess.Rect{X: cc.ROI.X, Y: cc.ROI.Y, W: cc.ROI.W, H: cc.ROI.H}, Mode: cc.Resize},
				Backoff: camera.Backoff{Initial: cc.Reconnect.Initial, Max: cc.Reconnect.Max},
			},
			Model:  m,
			Filter: pipeline.FilterConfig{Mode: cc.Publish.Mode, Heartbeat: cc.Publish.Heartbeat, Smoothing: cc.Publish.Smoothing},
			Gate:   gp.gate(cc.Name),
		})
	}
	p, err := pipeline.New(pipeline.Options{Cameras: cams, Sink: sink, Log: log, Metrics: met, Observer: gp.observer()})
	if err != nil {
		return err
	}
	defer p.Close()
	met.WatchCameras(p.States)

	load := opts.LoadConfig
	if load == nil {
		load = func() (*config.Config, error) { return cfg, nil }
	}
	rl, err := newReloader(cfg, load, reg, p, models, met, log)
	if err != nil {
		return err
	}
	started := time.Now()
	snapshot := func() statusapi.Snapshot {
		s := statusapi.Snapshot{Version: opts.Version, Device: device, Boot: boot, Started: started,
			Cameras: p.States(), Models: rl.modelInfo(), Reload: rl.lastReload(),
			Engine: statusapi.Engine{Name: engine.Name(), Library: engine.LibraryPath()}}
		if pub != nil {
			b := &statusapi.Broker{URL: pub.URL(), Connected: pub.Connected()}
			// With the queue, results are safe once accepted: ready
			// without a broker.
			b.Ready = b.Connected || (q != nil && q.ob.Ready())
			if err := pub.LastError(); err != nil {
				b.LastError = err.Error()
			}
			s.Broker = b
		}
		return s
	}
	led.snapshot.Store(&snapshot)
	runCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	if cfg.HTTP.Addr != "" {
		srv, err := statusapi.Listen(cfg.HTTP.Addr, met.Handler(), snapshot, log)
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info("serving /metrics, /healthz and /readyz", "addr", srv.Addr().String())
		go func() {
			if err := srv.Run(runCtx); err != nil {
				log.Error("http endpoint stopped", "err", err)
			}
		}()
	}

	// Under systemd (Type=notify): READY=1 once serving, status lines,
	// and watchdog pings while the pipeline makes progress.
	notify, err := sdnotify.New(os.Getenv)
	if err != nil {
		return err
	}
	sup := &supervisor{notify: notify, snapshot: snapshot, stalls: p.Stalls, log: log, tick: 250 * time.Millisecond}
	supDone := make(chan struct{})
	go func() { sup.run(runCtx); close(supDone) }()
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-opts.Reload:
				sup.reloading()
				rl.reload()
				sup.reloaded()
			}
		}
	}()

	log.Info("edged running", "device", device, "cameras", len(cams), "boot", boot)
	err = p.Run(ctx)
	log.Info("edged stopping", "reason", stopReason(ctx))
	if q != nil {
		q.drain(ctx, 10*time.Second)
	}
	stopServing()
	<-supDone
	<-reloadDone // the models it may have swapped in are closed by the defer above
	if nerr := notify.Stopping("stopping: " + stopReason(ctx)); nerr != nil {
		log.Warn("systemd notification failed", "notification", "STOPPING", "err", nerr)
	}
	return err
}

func stopReason(ctx context.Context) string {
	if ctx.Err() != nil {
		return "signal"
	}
	return "end of input"
}

// modelSpec turns a model's configuration into what the pipeline loads.
func modelSpec(mc config.Model) (pipeline.ModelSpec, error) {
	path := mc.Path
	if path == "" {
		p, err := DefaultModelPath()
		if err != nil {
			return pipeline.ModelSpec{}, fmt.Errorf("model %q: %w", mc.Name, err)
		}
		path = p
	}
	var norm preprocess.Norm
	if len(mc.Mean) > 0 {
		for ch := 0; ch < 3; ch++ {
			norm.Mean[ch] = float32(mc.Mean[min(ch, len(mc.Mean)-1)])
			norm.Std[ch] = float32(mc.Std[min(ch, len(mc.Std)-1)])
		}
	}
	return pipeline.ModelSpec{
		Name: mc.Name, Path: path, LabelsPath: mc.Labels,
		Options: infer.Options{Threads: mc.Threads, Accelerate: mc.Accelerate},
		Post:    infer.PostConfig{TopK: mc.TopK, Threshold: float32(mc.Threshold), Softmax: mc.Softmax},
		Norm:    norm, BGR: mc.Color == "bgr",
	}, nil
}
