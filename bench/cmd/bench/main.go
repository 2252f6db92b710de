// Command bench measures edged side by side with the runtime's own limit
// (bench/cmd/invokelimit) and with the usual Python pipeline
// (bench/baseline.py, the baseline), on the same machine, model, inputs and
// thread count, in interleaved repetitions. It starts a real mosquitto,
// subscribes to every result, and writes bench/out/results.json plus a
// short table on standard output. `make bench` and `make bench-smoke` run
// it; docs/performance.md explains the figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

// options are the command's flags.
type options struct {
	out         string
	size        frameSize
	edged       string
	invokelimit string
	python      string
	baseline    string
	model       string
	tfliteLib   string
	engine      string
	reps        int
	frames      int
	scanFrames  int
	photos      int
	scan        bool
	timeout     time.Duration
	main        bool // the file and folder comparison
	live        bool // the live-stream section (live.go)
	lo          liveOptions
	view        bool // the live view's cost (view.go)
	pool        bool // cameras per core (pool.go)
	vo          viewOptions
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "bench/out", "folder for results.json and the generated inputs")
	flag.StringVar(&o.edged, "edged", "bin/edged", "edged binary")
	flag.StringVar(&o.invokelimit, "invokelimit", "build/bench/invokelimit", "invokelimit binary")
	flag.StringVar(&o.python, "python", "build/bench-venv/bin/python", "Python of the bench venv (bench/requirements.txt)")
	flag.StringVar(&o.baseline, "baseline", "bench/baseline.py", "the Python baseline script")
	flag.StringVar(&o.model, "model", "models/efficientnet_lite0_int8.tflite", "model for every contender")
	flag.StringVar(&o.tfliteLib, "tflite-lib", "", "path of libtensorflowlite_c.so for invokelimit (default: search)")
	flag.StringVar(&o.engine, "engine", "auto", "engine for edged and invokelimit: auto, tflite or litert")
	o.size = frameSize{640, 480}
	flag.Var(&o.size, "size", "frame size of the generated videos, WxH")
	flag.IntVar(&o.reps, "reps", 3, "interleaved repetitions of the main comparison")
	flag.IntVar(&o.frames, "frames", 300, "frames in the generated video")
	flag.IntVar(&o.scanFrames, "scan-frames", 60, "frames in the shorter video of the camera and thread scans")
	flag.IntVar(&o.photos, "photos", 100, "files in the photo folder (the real photos, repeated)")
	flag.BoolVar(&o.scan, "scan", true, "also run 1, 2, 4 cameras and 1, 2, 4 inference threads")
	flag.DurationVar(&o.timeout, "run-timeout", 5*time.Minute, "limit for one contender's run")
	flag.BoolVar(&o.main, "main", true, "run the comparison on the video file and photo folder")
	flag.BoolVar(&o.live, "live", true, "run the live-stream section (an RTSP camera stream)")
	flag.DurationVar(&o.lo.seconds, "live-seconds", 18*time.Second, "how long each live contender runs")
	flag.IntVar(&o.lo.reps, "live-reps", 0, "repetitions of the live section (0: as -reps)")
	o.lo.size = frameSize{1920, 1080}
	flag.Var(&o.lo.size, "live-size", "the live stream's frame size, WxH")
	flag.DurationVar(&o.lo.segment, "live-photo", 4*time.Second, "how long each photo is on the live stream")
	flag.StringVar(&o.lo.only, "live-only", "", "run only these live contenders: kind@fps, comma-separated (e.g. edged@1,ffmpeg-keyframes@0)")
	flag.BoolVar(&o.pool, "pool", true, "run the cameras-per-core section: 4 cameras with and without the shared inference pool, beside the runtime's ceilings")
	flag.BoolVar(&o.view, "view", true, "run the live view's section: CPU per frame with no viewer, one viewer, sample keeping")
	flag.DurationVar(&o.vo.seconds, "view-seconds", 12*time.Second, "how long each view contender runs")
	flag.Float64Var(&o.vo.fps, "view-fps", 10, "the camera's rate in the view section")
	flag.Parse()
	if o.lo.reps == 0 {
		o.lo.reps = o.reps
	}
	o.vo.reps = o.reps
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	start := time.Now()
	if o.reps < 1 {
		return fmt.Errorf("-reps %d: need at least one repetition", o.reps)
	}
	for _, p := range []string{o.edged, o.invokelimit, o.python, o.baseline, o.model} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("missing %s (make bench builds it): %w", p, err)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	in, err := prepareInputs(o.out, o.size, o.frames, o.scanFrames, o.photos)
	if err != nil {
		return err
	}
	log.Info("inputs", "video", in.video, "video_frames", in.videoFrames, "photos", in.photoDir, "photo_count", in.photoCount)
	b, err := startBroker(o.out)
	if err != nil {
		return err
	}
	defer b.stop()
	sub, err := subscribe(b.addr)
	if err != nil {
		return err
	}
	defer sub.close()
	h := &harness{o: o, in: in, broker: b, sub: sub, log: log}

	var runs []measurement
	add := func(m measurement, err error) error {
		if err != nil {
			return err
		}
		log.Info("run", "kind", m.Kind, "input", m.Input, "cameras", m.Cameras, "threads", m.Threads,
			"frames", m.Frames, "fps", round(m.FPS), "p50_ms", round(m.P50ms), "p99_ms", round(m.P99ms))
		runs = append(runs, m)
		return nil
	}
	// The main comparison: one camera, one inference thread, interleaved.
	for rep := 0; o.main && rep < o.reps; rep++ {
		for _, step := range []func() (measurement, error){
			func() (measurement, error) { return h.limit(ctx, 1) },
			func() (measurement, error) { return h.edged(ctx, "video", 1, 1) },
			func() (measurement, error) { return h.python(ctx, "video", 1) },
			func() (measurement, error) { return h.edgedNoQueue(ctx, "video") },
			func() (measurement, error) { return h.edged(ctx, "photos", 1, 1) },
			func() (measurement, error) { return h.python(ctx, "photos", 1) },
		} {
			if err := add(step()); err != nil {
				return err
			}
		}
	}
	if o.main && o.scan {
		// On the shorter video: the input "scan" keeps these groups apart
		// from the main comparison's.
		for _, threads := range []int{1, 2, 4} {
			m, err := h.limitN(ctx, threads, h.in.scanFrames)
			m.Input = "scan"
			if err := add(m, err); err != nil {
				return err
			}
			if err := add(h.edged(ctx, "scan", 1, threads)); err != nil {
				return err
			}
		}
		for _, cams := range []int{2, 4} {
			if err := add(h.edged(ctx, "scan", cams, 1)); err != nil {
				return err
			}
		}
	}
	rep := summarize(runs)
	if o.pool {
		pr, err := runPool(ctx, h, o.reps)
		if err != nil {
			return err
		}
		rep.Pool = &pr
	}
	if o.live {
		lr, err := runLive(ctx, h, o.lo)
		if err != nil {
			return err
		}
		rep.Live = &lr
	}
	if o.view {
		vr, err := runView(ctx, h, o.vo)
		if err != nil {
			return err
		}
		rep.View = &vr
	}
	rep.Machine = describeMachine(o.edged)
	rep.Inputs = map[string]any{"video": filepath.Base(in.video), "video_frames": in.videoFrames, "scan_video_frames": in.scanFrames,
		"video_size": o.size.String(), "photos": in.photoCount, "model": o.model}
	rep.Repetitions = o.reps
	rep.Seconds = round(time.Since(start).Seconds())
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(o.out, "results.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if o.main {
		printTable(os.Stdout, rep)
	}
	if rep.Pool != nil {
		printPool(os.Stdout, *rep.Pool)
	}
	if rep.Live != nil {
		printLive(os.Stdout, *rep.Live)
	}
	if rep.View != nil {
		printView(os.Stdout, *rep.View)
	}
	fmt.Printf("\nresults: %s (%.0f s)\n", path, rep.Seconds)
	return nil
}
