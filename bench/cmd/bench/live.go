package main

// The live-stream section: a 1080p30 H.264 camera stream over RTSP (served
// by GStreamer's RTSP server, internal/rtsptest), classified
// at 1 and 5 results a second and as fast as possible, by edged and by the
// plain Python loop (bench/live_baseline.py, the live baseline), beside
// FFmpeg decoding the same stream and nothing else (every frame, and key
// frames only: the floors). Each contender runs alone for a fixed time;
// CPU is taken from /proc between the end of a warm-up and the end,
// memory (RSS, anonymous, file-backed) at the end.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edged-io/edged/bench/procfs"
	"github.com/edged-io/edged/internal/rtsptest"
)

// liveOptions are the section's flags.
type liveOptions struct {
	seconds time.Duration // how long each contender runs
	reps    int
	size    frameSize
	segment time.Duration // each photo's time on screen
	only    string        // kind@fps,…: only these contenders (all when empty)
}

// livePhotos switch in turn on the stream; each has a clear ImageNet top-1
// label, so a result says which one it saw.
var livePhotos = []string{"orange.jpg", "baboon.jpg", "butterfly.jpg"}

// liveStreamFPS is the stream's frame rate.
const liveStreamFPS = 30

// liveFigures are what one run of a contender measures, and, in a
// liveGroup, their medians over its runs.
type liveFigures struct {
	Cores   float64 `json:"cores"`
	RSSMB   float64 `json:"rss_mb"`
	AnonMB  float64 `json:"anon_mb"`
	FileMB  float64 `json:"file_mb"`
	Results float64 `json:"results_per_s,omitempty"`
	InferMs float64 `json:"infer_p50_ms,omitempty"`
	// InferCores is the invokes' own time in the measured window over
	// its length: the cores that inference alone takes (one thread).
	InferCores float64 `json:"infer_cores,omitempty"`
}

// liveRun is one contender's run on the stream.
type liveRun struct {
	Kind string  `json:"kind"` // edged, python, ffmpeg-all, ffmpeg-keyframes
	FPS  float64 `json:"fps"`  // results a second asked for (0: as fast as possible)
	liveFigures
	LagsMs []float64 `json:"lags_ms,omitempty"` // per photo switch: capture of the first result with the new label, after the switch
}

// liveGroup is the median over repetitions of one contender at one rate.
type liveGroup struct {
	Kind string  `json:"kind"`
	FPS  float64 `json:"fps"`
	Runs int     `json:"runs"`
	liveFigures
	// Pipeline is Cores less InferCores: receiving, decoding, converting,
	// publishing.
	Pipeline float64 `json:"pipeline_cores,omitempty"`
	LagP50   float64 `json:"lag_p50_ms,omitempty"`
	LagP99   float64 `json:"lag_p99_ms,omitempty"`
}

// liveReport is the section in results.json.
type liveReport struct {
	Stream  map[string]any     `json:"stream"`
	Groups  []liveGroup        `json:"groups"`
	Ratios  map[string]float64 `json:"ratios"`
	Targets map[string]bool    `json:"targets"`
	Runs    []liveRun          `json:"runs"`
}

// liveContender is how to start one contender.
type liveContender struct {
	kind string
	fps  float64
}

// runLive runs the section.
func runLive(ctx context.Context, h *harness, lo liveOptions) (liveReport, error) {
	video, err := liveVideo(h.o.out, lo)
	if err != nil {
		return liveReport{}, err
	}
	srv, err := rtsptest.Launch(h.o.out, video, 0)
	if err != nil {
		return liveReport{}, err
	}
	defer srv.Kill()
	order := []liveContender{
		{"edged", 1}, {"python", 1}, {"ffmpeg-keyframes", 0},
		{"edged", 5}, {"python", 5}, {"ffmpeg-all", 0},
		{"edged", 0}, {"python", 0},
		// Inference slower than the stream: the runtimes' own kernels,
		// XNNPACK off (edged's TFLite engine: about 150 ms an invoke here;
		// ai-edge-litert's: about 40 ms), both slower than a 33 ms frame.
		{"edged-slow", 0}, {"python-slow", 0},
	}
	if lo.only != "" {
		want := strings.Split(lo.only, ",")
		order = slices.DeleteFunc(order, func(c liveContender) bool {
			return !slices.Contains(want, c.kind+"@"+strconv.FormatFloat(c.fps, 'f', -1, 64))
		})
		if len(order) == 0 {
			return liveReport{}, fmt.Errorf("-live-only %q: no such contender (kind@fps, e.g. edged@1)", lo.only)
		}
	}
	var runs []liveRun
	for rep := 0; rep < lo.reps; rep++ {
		for _, c := range order {
			r, err := h.liveRun(ctx, srv, lo, c)
			if err != nil {
				return liveReport{}, fmt.Errorf("live %s at fps %v: %w", c.kind, c.fps, err)
			}
			h.log.Info("live run", "kind", r.Kind, "fps", r.FPS, "cores", round(r.Cores), "anon_mb", round(r.AnonMB),
				"results_per_s", round(r.Results), "lags_ms", r.LagsMs)
			runs = append(runs, r)
		}
	}
	rep := summarizeLive(runs)
	rep.Stream = map[string]any{"size": lo.size.String(), "fps": liveStreamFPS, "codec": "H.264, 3 Mbit/s, a key frame a second",
		"transport": "RTSP over TCP on loopback", "photo_seconds": lo.segment.Seconds(), "run_seconds": lo.seconds.Seconds(),
		"repetitions": lo.reps}
	return rep, nil
}

// liveVideo encodes the stream's file (cached under out): the photos in
// turn, each for lo.segment, letterboxed into lo.size, with light
// temporal noise so that a still photo costs a camera's bit rate.
func liveVideo(out string, lo liveOptions) (string, error) {
	n := int(math.Ceil((lo.seconds+10*time.Second).Seconds()/lo.segment.Seconds())) + 1
	path := filepath.Join(out, fmt.Sprintf("live-%s-%dx%.0fs.mp4", lo.size, n, lo.segment.Seconds()))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	args := []string{"-nostdin", "-loglevel", "error", "-y"}
	var filter strings.Builder
	for i := 0; i < n; i++ {
		p := filepath.Join(photoDir, livePhotos[i%len(livePhotos)])
		args = append(args, "-loop", "1", "-framerate", strconv.Itoa(liveStreamFPS), "-t", fmt.Sprint(lo.segment.Seconds()), "-i", p)
		fmt.Fprintf(&filter, "[%d]scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1[v%d];",
			i, lo.size.w, lo.size.h, lo.size.w, lo.size.h, i)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&filter, "[v%d]", i)
	}
	fmt.Fprintf(&filter, "concat=n=%d:v=1:a=0,noise=alls=8:allf=t,format=yuv420p[out]", n)
	args = append(args, "-filter_complex", filter.String(), "-map", "[out]", "-r", strconv.Itoa(liveStreamFPS),
		"-c:v", "libx264", "-preset", "veryfast", "-g", strconv.Itoa(liveStreamFPS), "-keyint_min", strconv.Itoa(liveStreamFPS),
		"-sc_threshold", "0", "-bf", "0", "-b:v", "3M", "-maxrate", "3M", "-bufsize", "6M", "-movflags", "+faststart", path+".tmp.mp4")
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("encode the live stream: ffmpeg: %w: %s", err, out)
	}
	return path, os.Rename(path+".tmp.mp4", path)
}

// liveRun runs one contender for lo.seconds.
func (h *harness) liveRun(ctx context.Context, srv *rtsptest.Process, lo liveOptions, c liveContender) (liveRun, error) {
	streams := len(srv.Playing())
	var cmd *exec.Cmd
	fps := strconv.FormatFloat(c.fps, 'f', -1, 64)
	switch c.kind {
	case "edged":
		cmd = exec.Command(h.o.edged, "run", "--source", srv.URL(), "--fps", fps, "--no-mqtt", "--log-level", "warn",
			"--model", h.o.model, "--threads", "1", "--engine", h.o.engine)
	case "edged-slow":
		cmd = exec.Command(h.o.edged, "run", "--source", srv.URL(), "--fps", fps, "--no-mqtt", "--log-level", "warn",
			"--model", h.o.model, "--threads", "1", "--engine", "tflite", "--accelerate", "off")
	case "python", "python-slow":
		xnnpack := "on"
		if c.kind == "python-slow" {
			xnnpack = "off"
		}
		cmd = exec.Command(h.o.python, filepath.Join(filepath.Dir(h.o.baseline), "live_baseline.py"), "--source", srv.URL(),
			"--model", h.o.model, "--fps", fps, "--threads", "1", "--xnnpack", xnnpack)
		cmd.Env = append(os.Environ(), "OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp")
	case "ffmpeg-all":
		cmd = exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", srv.URL(), "-f", "null", "-")
	case "ffmpeg-keyframes":
		cmd = exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-skip_frame", "nokey", "-i", srv.URL(), "-f", "null", "-")
	default:
		return liveRun{}, fmt.Errorf("unknown contender %q", c.kind)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return liveRun{}, err
	}
	h.n++
	logf, err := os.Create(filepath.Join(h.o.out, fmt.Sprintf("run-%02d-live-%s.log", h.n, c.kind)))
	if err != nil {
		return liveRun{}, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return liveRun{}, err
	}
	lines := make(chan liveLine, 4096)
	go readLiveLines(stdout, lines)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	warm := min(3*time.Second, lo.seconds/3)
	if !sleepCtx(ctx, warm) {
		return liveRun{}, ctx.Err()
	}
	cpu0, t0 := procCPU(cmd.Process.Pid), time.Now()
	if !sleepCtx(ctx, lo.seconds-warm) {
		return liveRun{}, ctx.Err()
	}
	cpu1, t1 := procCPU(cmd.Process.Pid), time.Now()
	if cpu0 < 0 || cpu1 < 0 {
		return liveRun{}, fmt.Errorf("%s exited early (see %s)", c.kind, logf.Name())
	}
	r := liveRun{Kind: c.kind, FPS: c.fps, liveFigures: liveFigures{Cores: (cpu1 - cpu0) / t1.Sub(t0).Seconds()}}
	r.RSSMB, r.AnonMB, r.FileMB = procMemory(cmd.Process.Pid)
	var got []liveLine
	for len(lines) > 0 {
		got = append(got, <-lines)
	}
	// Time 0 of the stream this run read: the last one it opened (edged's
	// decode: auto reopens the stream once it has chosen to decode every
	// frame, and the server starts each stream from the file's start).
	var start time.Time
	if p := srv.Playing(); len(p) > streams {
		start = p[len(p)-1]
	}
	if strings.HasPrefix(c.kind, "edged") || strings.HasPrefix(c.kind, "python") {
		if len(got) == 0 {
			return liveRun{}, fmt.Errorf("%s gave no results (see %s)", c.kind, logf.Name())
		}
		var inf []float64
		n, inWindow := 0, 0.0
		for _, l := range got {
			inf = append(inf, l.infer)
			if !l.ts.Before(t0) && l.ts.Before(t1) {
				n++
				inWindow += l.infer
			}
		}
		r.Results = float64(n) / t1.Sub(t0).Seconds()
		r.InferCores = inWindow / 1000 / t1.Sub(t0).Seconds()
		r.InferMs = pct(inf, 50)
		if !start.IsZero() {
			r.LagsMs = switchLags(got, start, lo.segment)
		}
	}
	return r, nil
}

// liveLine is one result line: capture time, top-1 label, invoke time.
type liveLine struct {
	ts    time.Time
	label string
	infer float64
}

func readLiveLines(r io.Reader, out chan<- liveLine) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var p struct {
			TS     time.Time `json:"ts"`
			Labels []struct {
				Label string `json:"label"`
			} `json:"labels"`
			Latency struct {
				Infer float64 `json:"infer"`
			} `json:"latency_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &p) != nil || len(p.Labels) == 0 {
			continue
		}
		select {
		case out <- liveLine{ts: p.TS, label: p.Labels[0].Label, infer: p.Latency.Infer}:
		default:
		}
	}
	io.Copy(io.Discard, r)
}

// switchLags is, for each photo switch the results cover, how long after
// the switch the first result with the new photo's label was captured.
// A segment's label is the one most of its results past its first second
// carry; segments whose label is the previous one's are left out.
func switchLags(got []liveLine, start time.Time, segment time.Duration) []float64 {
	seg := func(t time.Time) int { return int(t.Sub(start) / segment) }
	labels := map[int]map[string]int{}
	for _, l := range got {
		k := seg(l.ts)
		if l.ts.Sub(start.Add(time.Duration(k)*segment)) < time.Second {
			continue
		}
		if labels[k] == nil {
			labels[k] = map[string]int{}
		}
		labels[k][l.label]++
	}
	major := func(k int) string {
		best, n := "", 0
		for l, c := range labels[k] {
			if c > n || c == n && l < best {
				best, n = l, c
			}
		}
		return best
	}
	var lags []float64
	first, last := seg(got[0].ts), seg(got[len(got)-1].ts)
	for k := first + 1; k < last; k++ {
		want, prev := major(k), major(k-1)
		if want == "" || prev == "" || want == prev {
			continue
		}
		at := start.Add(time.Duration(k) * segment)
		for _, l := range got {
			if !l.ts.Before(at) && l.label == want {
				lags = append(lags, round(msf(l.ts.Sub(at))))
				break
			}
		}
	}
	return lags
}

// procCPU is a process's user and system CPU time in seconds, or -1.
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) in ")".
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// procMemory is a process's resident memory, anonymous and file-backed, MB.
func procMemory(pid int) (rss, anon, file float64) { return procfs.Memory(pid) }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// summarizeLive groups the runs by contender and rate and computes the
// ratios the targets are about.
func summarizeLive(runs []liveRun) liveReport {
	rep := liveReport{Runs: runs, Ratios: map[string]float64{}, Targets: map[string]bool{}}
	type key struct {
		kind string
		fps  float64
	}
	var keys []key
	by := map[key][]liveRun{}
	for _, r := range runs {
		k := key{r.Kind, r.FPS}
		if by[k] == nil {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	med := func(rs []liveRun, f func(liveRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return round(v[len(v)/2])
	}
	groups := map[key]liveGroup{}
	for _, k := range keys {
		rs := by[k]
		g := liveGroup{Kind: k.kind, FPS: k.fps, Runs: len(rs), liveFigures: liveFigures{
			Cores: med(rs, func(r liveRun) float64 { return r.Cores }), RSSMB: med(rs, func(r liveRun) float64 { return r.RSSMB }),
			AnonMB: med(rs, func(r liveRun) float64 { return r.AnonMB }), FileMB: med(rs, func(r liveRun) float64 { return r.FileMB }),
			Results: med(rs, func(r liveRun) float64 { return r.Results }), InferMs: med(rs, func(r liveRun) float64 { return r.InferMs }),
			InferCores: med(rs, func(r liveRun) float64 { return r.InferCores })},
			Pipeline: med(rs, func(r liveRun) float64 { return r.Cores - r.InferCores })}
		var lags []float64
		for _, r := range rs {
			lags = append(lags, r.LagsMs...)
		}
		if len(lags) > 0 {
			g.LagP50, g.LagP99 = pct(lags, 50), pct(lags, 99)
		}
		groups[k] = g
		rep.Groups = append(rep.Groups, g)
	}
	ratio := func(name string, a, b key, f func(liveGroup) float64) {
		ga, oka := groups[a]
		gb, okb := groups[b]
		if oka && okb && f(gb) > 0 {
			rep.Ratios[name] = round(f(ga) / f(gb))
		}
	}
	cores := func(g liveGroup) float64 { return g.Cores }
	anon := func(g liveGroup) float64 { return g.AnonMB }
	pipeline := func(g liveGroup) float64 { return g.Pipeline } // the floors' own cores: they infer nothing
	ratio("cpu_1fps_edged_vs_python", key{"edged", 1}, key{"python", 1}, cores)
	ratio("cpu_1fps_edged_vs_keyframe_floor", key{"edged", 1}, key{"ffmpeg-keyframes", 0}, cores)
	ratio("cpu_5fps_edged_vs_python", key{"edged", 5}, key{"python", 5}, cores)
	ratio("cpu_5fps_edged_vs_decode_floor", key{"edged", 5}, key{"ffmpeg-all", 0}, cores)
	// The same with each contender's inference taken out: what its
	// receiving and decoding cost against the decoder alone. Inference is
	// the same model on the same runtime whatever decodes, and on a slow
	// core (37 ms an invoke) it alone is most of a 1 fps key-frame floor.
	ratio("cpu_1fps_edged_pipeline_vs_keyframe_floor", key{"edged", 1}, key{"ffmpeg-keyframes", 0}, pipeline)
	ratio("cpu_5fps_edged_pipeline_vs_decode_floor", key{"edged", 5}, key{"ffmpeg-all", 0}, pipeline)
	ratio("cpu_1fps_edged_pipeline_vs_python_pipeline", key{"edged", 1}, key{"python", 1}, pipeline)
	ratio("cpu_5fps_edged_pipeline_vs_python_pipeline", key{"edged", 5}, key{"python", 5}, pipeline)
	ratio("anon_1fps_edged_vs_python", key{"edged", 1}, key{"python", 1}, anon)
	ratio("anon_5fps_edged_vs_python", key{"edged", 5}, key{"python", 5}, anon)
	// The lag bound: one inference plus one frame interval, each
	// contender against its own inference time.
	for _, kind := range []string{"edged", "python", "edged-slow", "python-slow"} {
		if g, ok := groups[key{kind, 0}]; ok && g.LagP99 > 0 {
			bound := g.InferMs + 1000.0/liveStreamFPS
			rep.Ratios["lag_p99_"+strings.ReplaceAll(kind, "-", "_")+"_vs_bound"] = round(g.LagP99 / bound)
		}
	}
	target := func(name string, limit float64) {
		if v, ok := rep.Ratios[name]; ok {
			rep.Targets[fmt.Sprintf("%s <= %g", name, limit)] = v <= limit
		}
	}
	target("cpu_1fps_edged_vs_python", 0.3)
	target("cpu_1fps_edged_vs_keyframe_floor", 1.2)
	target("cpu_5fps_edged_vs_python", 0.8)
	target("cpu_5fps_edged_vs_decode_floor", 1.15)
	target("anon_1fps_edged_vs_python", 0.5)
	target("lag_p99_edged_slow_vs_bound", 1)
	return rep
}

// printLive writes the section's table.
func printLive(w io.Writer, r liveReport) {
	fmt.Fprintf(w, "\nlive stream (%v %v fps, %v; every contender alone, medians of %v runs):\n", r.Stream["size"], r.Stream["fps"], r.Stream["transport"], r.Stream["repetitions"])
	fmt.Fprintf(w, "  %-18s %5s %7s %7s %8s %8s %8s %8s %10s %9s %9s %9s\n", "contender", "fps", "cores", "infer", "pipeline", "RSS MB", "anon MB", "file MB", "results/s", "infer ms", "lag p50", "lag p99")
	for _, g := range r.Groups {
		fmt.Fprintf(w, "  %-18s %5g %7.3f %7.3f %8.3f %8.1f %8.1f %8.1f %10.2f %9.2f %9.0f %9.0f\n", g.Kind, g.FPS, g.Cores, g.InferCores, g.Pipeline, g.RSSMB, g.AnonMB, g.FileMB, g.Results, g.InferMs, g.LagP50, g.LagP99)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Ratios)) {
		fmt.Fprintf(w, "  %-36s %8.3f\n", k, r.Ratios[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.Targets)) {
		fmt.Fprintf(w, "  target %-40s %v\n", k, r.Targets[k])
	}
}
