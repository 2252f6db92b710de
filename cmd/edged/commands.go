package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/daemon"
	"github.com/edged-io/edged/internal/infer/litertengine"
	"github.com/edged-io/edged/internal/infer/tfliteengine"
	"github.com/edged-io/edged/internal/modelfile"
	"github.com/edged-io/edged/internal/publish"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, onLogger func(*slog.Logger)) error {
	// SIGHUP reloads (systemctl reload); caught from the start so that an
	// early one cannot end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fs := flag.NewFlagSet("edged run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration file (several cameras and models)")
	source := fs.String("source", "", "quick mode: camera source (device index, /dev/videoN, rtsp://, http(s)://, video file, image folder)")
	model := fs.String("model", "", "model file (default: the bundled EfficientNet-Lite0 ImageNet int8 model)")
	labels := fs.String("labels", "", "labels file, one per line (default: from the model's metadata)")
	output := fs.String("output", "", "the class-score output (name or index) of a model with several outputs")
	broker := fs.String("broker", "", "MQTT broker URL, e.g. tcp://host:1883 (default: start the embedded broker)")
	device := fs.String("device", "", "device id in MQTT topics (default: the host name)")
	cam := fs.String("camera", "cam0", "camera name in MQTT topics")
	fps := fs.Float64("fps", 0, "frame-rate cap (0: unbounded)")
	topK := fs.Int("top-k", 5, "labels per result")
	threshold := fs.Float64("threshold", 0, "minimum score of a reported label")
	threads := fs.Int("threads", 1, "inference threads")
	accelerate := fs.String("accelerate", "auto", "XNNPACK: auto, on or off (off: the runtime's own kernels)")
	loop := fs.Bool("loop", false, "start a video file or image folder over at its end")
	resize := fs.String("resize", "stretch", "stretch, center-crop or letterbox")
	decode := fs.String("decode", "auto", "a stream's decoding: auto, all or keyframes")
	transport := fs.String("rtsp-transport", "", "RTSP transport: tcp (default) or udp")
	preset := fs.String("preset", "", "GStreamer pipeline for a board's decoder or camera: "+strings.Join(camera.PresetNames(), ", "))
	printResults := fs.Bool("stdout", false, "also print every result as a JSON line on standard output")
	noMQTT := fs.Bool("no-mqtt", false, "publish nowhere but standard output (implies --stdout)")
	lib := fs.String("tflite-lib", "", "path of libtensorflowlite_c.so (default: search the usual places)")
	litertLib := fs.String("litert-lib", "", "path of libLiteRt.so (default: search the usual places)")
	engine := fs.String("engine", "", "inference engine: auto, tflite or litert (overrides the config; default auto)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides the config)")
	queue := fs.String("queue", "", "quick mode: the outbound queue's file, or off (default: a file per broker and device in the state folder)")
	httpAddr := fs.String("http", "", "quick mode: serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9464 (default: off)")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if help(args) {
		return nil
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	var cfg *config.Config
	switch {
	case *cfgPath != "" && *source != "":
		return usageError{"give either --config or --source, not both"}
	case *cfgPath != "":
		if err := quickOnly(fs); err != nil {
			return err
		}
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	case *source != "":
		cfg = config.Defaults()
		cfg.Device, cfg.Broker.URL, cfg.HTTP.Addr = *device, *broker, *httpAddr
		m := &cfg.Models[0]
		m.Path, m.Labels, m.TopK, m.Threshold, m.Threads, m.Output = *model, *labels, *topK, *threshold, *threads, *output
		m.Accelerate = *accelerate
		switch *queue {
		case "":
		case "off":
			cfg.Queue.Enabled = false
		default:
			cfg.Queue.Path = *queue
		}
		c := config.NewCamera(*cam, *source)
		c.FPS, c.Loop, c.Resize = *fps, *loop, *resize
		c.Decode, c.RTSPTransport, c.Preset = *decode, *transport, *preset
		cfg.Cameras = []config.Camera{c}
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
	default:
		return usageError{"edged run needs --config FILE or --source SRC"}
	}
	if *engine != "" {
		cfg.Engine = *engine
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	// On a terminal, without --stdout, a live view replaces the scrolling
	// log: the log's latest lines show under it.
	var term *terminal
	logTo := stderr
	if !*printResults && !*noMQTT && isTerminal(stdout) && isTerminal(stderr) {
		device := cfg.Device
		if device == "" {
			device = daemon.Hostname()
		}
		term = newTerminal(stdout, cfg.Broker.TopicPrefix, device, fmt.Sprintf("edged %s on %s", version, device))
		logTo = term.logs
		if cfg.Log.Format == "auto" || cfg.Log.Format == "" {
			cfg.Log.Format = "text"
		}
	}
	log, err := newLogger(cfg.Log, logTo)
	if err != nil {
		return usageError{err.Error()}
	}
	if onLogger != nil {
		onLogger(log)
	}
	opts := daemon.Options{Config: cfg, TFLiteLib: *lib, LiteRTLib: *litertLib, Log: log, NoMQTT: *noMQTT, Version: version, Reload: hup}
	if *cfgPath != "" {
		opts.ConfigPath = *cfgPath
		opts.LoadConfig = func() (*config.Config, error) {
			c, err := config.Load(*cfgPath)
			if err == nil && *logLevel != "" {
				c.Log.Level = *logLevel
			}
			if err == nil && *engine != "" {
				c.Engine = *engine
			}
			return c, err
		}
	}
	if *printResults || *noMQTT {
		opts.Stdout = stdout
		// A reader that goes away (`| head`) makes writes fail with EPIPE,
		// which ends the run cleanly, instead of SIGPIPE killing edged
		// with results still in flight.
		pipe := make(chan os.Signal, 1)
		signal.Notify(pipe, syscall.SIGPIPE)
		defer signal.Stop(pipe)
	}
	if term != nil {
		opts.Outputs = []publish.Output{term}
		tctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { term.run(tctx); close(done) }()
		defer func() { stop(); <-done; term.close() }()
	}
	log.Info("edged starting", "version", version)
	return daemon.Run(ctx, opts)
}

// help reports whether args ask for help (-h, -help, --help).
func help(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// parseArgs parses fs's flags wherever they stand among args (`model
// inspect FILE --json` too) and returns the other arguments. Asked for
// help, it prints the flags on stdout (exit 0); a bad flag is a usage
// error.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	if help(args) {
		fmt.Fprintf(stdout, "usage of %s:\n", fs.Name())
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil, nil
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		if args = fs.Args(); args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// quickFlags are the flags that describe a quick-mode run, and the
// configuration key each stands for.
var quickFlags = map[string]string{
	"model": "models[].path", "labels": "models[].labels", "output": "models[].output", "broker": "broker.url", "device": "device",
	"camera": "cameras[].name", "fps": "cameras[].fps", "top-k": "models[].top_k", "threshold": "models[].threshold",
	"threads": "models[].threads", "loop": "cameras[].loop", "resize": "cameras[].resize", "http": "http.addr",
	"queue": "queue.path or queue.enabled", "decode": "cameras[].decode", "rtsp-transport": "cameras[].rtsp_transport",
	"preset": "cameras[].preset", "accelerate": "models[].accelerate",
}

// quickOnly refuses quick-mode flags beside --config: the file decides
// those settings, and a flag silently ignored is worse than an error.
func quickOnly(fs *flag.FlagSet) error {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if key, ok := quickFlags[f.Name]; ok {
			set = append(set, fmt.Sprintf("--%s (set %s in the file)", f.Name, key))
		}
	})
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	return usageError{"with --config these quick-mode flags have no effect, so they are refused: " + strings.Join(set, ", ")}
}

// durationsAsText writes durations as Go spells them ("1.5s"), not as
// nanoseconds, in both formats.
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// newLogger logs JSON when stderr is not a terminal (journald), text on one.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", c.Level)
	}
	format := c.Format
	if format == "auto" || format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	ho := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, ho)), nil
	}
	return slog.New(slog.NewJSONHandler(w, ho)), nil
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edged check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	if _, err := parseArgs(fs, args, stdout); err != nil || help(args) {
		return err
	}
	if *path == "" {
		return usageError{"check-config needs --config FILE"}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	// Every check a run makes short of opening cameras and the broker.
	if err := daemon.Check(cfg); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	fmt.Fprintf(stdout, "%s: ok (%d models, %d cameras)\n", *path, len(cfg.Models), len(cfg.Cameras))
	return nil
}

func cmdModel(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "inspect" {
		return usageError{"usage: edged model inspect [--json] FILE"}
	}
	fs := flag.NewFlagSet("edged model inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args[1:], stdout)
	if err != nil || help(args[1:]) {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: edged model inspect [--json] FILE"}
	}
	info, _, err := modelfile.ReadFile(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	return info.WriteText(stdout)
}

func cmdVersion(stdout io.Writer) error {
	fmt.Fprintf(stdout, "edged %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if e, err := tfliteengine.Open(""); err == nil {
		fmt.Fprintf(stdout, "runtime: %s (%s)\n", e.Name(), e.LibraryPath())
	} else {
		fmt.Fprintf(stdout, "runtime: not found (%s)\n", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	if e, err := litertengine.Open(""); err == nil {
		fmt.Fprintf(stdout, "runtime: %s (%s)\n", e.Name(), e.LibraryPath())
	} else {
		fmt.Fprintf(stdout, "runtime: litert not found (%s)\n", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	return nil
}

// cmdHealthcheck asks a running edged's /healthz: exit 0 when it answers
// 200 (healthy or degraded), 1 otherwise, printing the status. It is the
// container image's HEALTHCHECK, which has no curl.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edged healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:9464/healthz", "the /healthz address of the edged to ask")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil || help(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usageError{fmt.Sprintf("--url: %v", err)}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body); err != nil {
		return fmt.Errorf("healthcheck: %s answered %s, not edged's JSON: %w", *url, res.Status, err)
	}
	fmt.Fprintf(stdout, "%s\n", body.Status)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s (%s)", *url, res.Status, body.Status)
	}
	return nil
}
