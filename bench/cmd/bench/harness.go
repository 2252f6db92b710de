package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// measurement is one contender's run.
type measurement struct {
	Kind          string             `json:"kind"`  // limit, edged, python
	Input         string             `json:"input"` // video, photos; "" for limit
	Cameras       int                `json:"cameras"`
	Threads       int                `json:"threads"`
	Frames        int                `json:"frames"`
	FPS           float64            `json:"fps"`
	P50ms         float64            `json:"p50_ms"` // capture to delivery (limit: invoke)
	P99ms         float64            `json:"p99_ms"`
	InferP50ms    float64            `json:"infer_p50_ms,omitempty"`
	OverheadP50ms float64            `json:"overhead_p50_ms,omitempty"` // per result: latency minus invoke
	CPUPerFrameMs float64            `json:"cpu_per_frame_ms,omitempty"`
	PeakRSSMB     float64            `json:"peak_rss_mb,omitempty"`
	StagesP50ms   map[string]float64 `json:"stages_p50_ms,omitempty"`   // from edged's payload latency fields
	MetricsMeanMs map[string]float64 `json:"metrics_mean_ms,omitempty"` // from edged's /metrics histograms
}

// harness runs the contenders against one broker and subscriber.
type harness struct {
	o      options
	in     inputs
	broker *broker
	sub    *subscriber
	log    *slog.Logger
	n      int // runs so far, for file names
}

func (h *harness) source(input string) (string, int) {
	switch input {
	case "photos":
		return h.in.photoDir, h.in.photoCount
	case "scan":
		return h.in.scanVideo, h.in.scanFrames
	}
	return h.in.video, h.in.videoFrames
}

// limit runs invokelimit at threads.
func (h *harness) limit(ctx context.Context, threads int) (measurement, error) {
	return h.limitN(ctx, threads, h.in.videoFrames)
}

// limitN runs invokelimit at threads for n invocations.
func (h *harness) limitN(ctx context.Context, threads, n int) (measurement, error) {
	return h.invokeLimit(ctx, limitRun{threads: threads, sessions: 1, batch: 1}, n)
}

// limitRun is one invokelimit configuration: sessions invoking at once,
// each with threads threads and batch images per invoke, on engine (""
// for the bench's).
type limitRun struct {
	threads, sessions, batch int
	engine                   string
}

// invokeLimit runs invokelimit as lr says, n invocations per session.
func (h *harness) invokeLimit(ctx context.Context, lr limitRun, n int) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, h.o.timeout)
	defer cancel()
	engine := lr.engine
	if engine == "" {
		engine = h.o.engine
	}
	args := []string{"-model", h.o.model, "-threads", strconv.Itoa(lr.threads), "-n", strconv.Itoa(n), "-engine", engine,
		"-sessions", strconv.Itoa(max(lr.sessions, 1)), "-batch", strconv.Itoa(max(lr.batch, 1))}
	if h.o.tfliteLib != "" {
		args = append(args, "-tflite-lib", h.o.tfliteLib)
	}
	cmd := exec.CommandContext(ctx, h.o.invokelimit, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w: %s", h.o.invokelimit, err, lastLines(stderr.String(), 3))
	}
	var r struct {
		Engine string  `json:"engine"`
		N      int     `json:"n"`
		FPS    float64 `json:"fps"`
		P50ms  float64 `json:"p50_ms"`
		P99ms  float64 `json:"p99_ms"`
		CPUms  float64 `json:"cpu_per_frame_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return measurement{}, fmt.Errorf("invokelimit output %q: %w", out, err)
	}
	h.log.Info("limit engine", "engine", r.Engine)
	return measurement{Kind: "limit", Cameras: 1, Threads: lr.threads, Frames: r.N, FPS: r.FPS, P50ms: r.P50ms, P99ms: r.P99ms, InferP50ms: r.P50ms, CPUPerFrameMs: r.CPUms}, nil
}

// lastLines is the last n lines of s (a runtime's stderr is mostly its
// banner).
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// edged runs the daemon on input with cameras cameras (each reading the
// same file) and threads inference threads, every frame published to the
// bench's mosquitto, and stops it once every result arrived.
func (h *harness) edged(ctx context.Context, input string, cameras, threads int) (measurement, error) {
	return h.edgedRun(ctx, input, cameras, threads, true, "")
}

// edgedNoQueue is edged with its persistent queue off (queue.enabled
// false): results go straight to the broker, as before the queue existed.
func (h *harness) edgedNoQueue(ctx context.Context, input string) (measurement, error) {
	m, err := h.edgedRun(ctx, input, 1, 1, false, "")
	m.Kind = "edged-noqueue"
	return m, err
}

// edgedRun is edged on input with cameras cameras, threads inference
// threads, the queue on or off and the model's pool setting ("": the
// default).
func (h *harness) edgedRun(ctx context.Context, input string, cameras, threads int, queue bool, pool string) (measurement, error) {
	h.n++
	dir, err := filepath.Abs(filepath.Join(h.o.out, fmt.Sprintf("run-%02d-edged", h.n)))
	if err != nil {
		return measurement{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return measurement{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return measurement{}, err
	}
	src, frames := h.source(input)
	src, err = filepath.Abs(src)
	if err != nil {
		return measurement{}, err
	}
	model, err := filepath.Abs(h.o.model)
	if err != nil {
		return measurement{}, err
	}
	port, err := freePort()
	if err != nil {
		return measurement{}, err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "engine: %s\n", h.o.engine)
	fmt.Fprintf(&cfg, "device: edged\nlog: {level: warn, format: text}\nhttp: {addr: \"127.0.0.1:%d\"}\n", port)
	fmt.Fprintf(&cfg, "broker: {url: \"tcp://%s\", qos: 1, topic_prefix: bench, client_id: bench-edged-%d}\n", h.broker.addr, h.n)
	fmt.Fprintf(&cfg, "queue: {enabled: %v, path: %q}\n", queue, filepath.Join(dir, "queue.db"))
	poolKey := ""
	if pool != "" {
		poolKey = fmt.Sprintf(", pool: %s", pool)
	}
	fmt.Fprintf(&cfg, "models:\n  - {name: default, path: %q, threads: %d%s}\ncameras:\n", model, threads, poolKey)
	for c := 0; c < cameras; c++ {
		fmt.Fprintf(&cfg, "  - {name: cam%d, source: %q, fps: 0, loop: false, publish: {mode: every}}\n", c, src)
	}
	conf := filepath.Join(dir, "edged.yaml")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
		return measurement{}, err
	}
	cmd := exec.Command(h.o.edged, "run", "--config", conf)
	logf, err := os.Create(filepath.Join(dir, "edged.log"))
	if err != nil {
		return measurement{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	want := frames * cameras
	m, err := h.collect(ctx, cmd, want, func() map[string]float64 { return scrapeStages(port) })
	if err != nil {
		return measurement{}, fmt.Errorf("edged (%s): %w", logf.Name(), err)
	}
	m.Kind, m.Input, m.Cameras, m.Threads = "edged", input, cameras, threads
	return m, nil
}

// python runs the baseline script on input with threads interpreter threads.
func (h *harness) python(ctx context.Context, input string, threads int) (measurement, error) {
	h.n++
	src, frames := h.source(input)
	logPath := filepath.Join(h.o.out, fmt.Sprintf("run-%02d-python.log", h.n))
	logf, err := os.Create(logPath)
	if err != nil {
		return measurement{}, err
	}
	defer logf.Close()
	cmd := exec.Command(h.o.python, h.o.baseline, "--source", src, "--model", h.o.model,
		"--broker", h.broker.addr, "--topic", "bench/python/cam0/result", "--threads", strconv.Itoa(threads))
	cmd.Stdout, cmd.Stderr = logf, logf
	m, err := h.collect(ctx, cmd, frames, nil)
	if err != nil {
		return measurement{}, fmt.Errorf("python baseline (%s): %w", logPath, err)
	}
	m.Kind, m.Input, m.Cameras, m.Threads = "python", input, 1, threads
	return m, nil
}

// collect starts cmd, waits for want results, calls before (if any) while
// the process still runs, stops it and computes the figures.
func (h *harness) collect(ctx context.Context, cmd *exec.Cmd, want int, before func() map[string]float64) (measurement, error) {
	h.sub.reset(0)
	if err := cmd.Start(); err != nil {
		return measurement{}, err
	}
	h.sub.reset(cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
	}
	defer stop()
	// edged may exit by itself once every file source ended: read its
	// metrics while it runs, keeping the last good scrape.
	var stages map[string]float64
	var scraped sync.Mutex
	scrapeDone := make(chan struct{})
	scrapeStop := make(chan struct{})
	go func() {
		defer close(scrapeDone)
		if before == nil {
			return
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if st := before(); st != nil {
				scraped.Lock()
				stages = st
				scraped.Unlock()
			}
			select {
			case <-scrapeStop:
				return
			case <-t.C:
			}
		}
	}()
	defer func() {
		select {
		case <-scrapeStop:
		default:
			close(scrapeStop)
		}
		<-scrapeDone
	}()
	deadline := time.After(h.o.timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var exitErr error
	exitedEarly := false
wait:
	for {
		n, err := h.sub.received()
		if err != nil {
			return measurement{}, err
		}
		if n >= want {
			break
		}
		select {
		case <-ctx.Done():
			return measurement{}, ctx.Err()
		case <-deadline:
			return measurement{}, fmt.Errorf("%d of %d results after %s", n, want, h.o.timeout)
		case exitErr = <-exited:
			// The baseline exits once it published everything; wait
			// for the deliveries still under way.
			stopped, exitedEarly = true, true
			if exitErr != nil {
				return measurement{}, fmt.Errorf("exited: %w", exitErr)
			}
			break wait
		case <-tick.C:
		}
	}
	if exitedEarly {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if n, _ := h.sub.received(); n >= want {
				break
			}
		}
	}
	if before != nil {
		if st := before(); st != nil {
			scraped.Lock()
			stages = st
			scraped.Unlock()
		}
	}
	close(scrapeStop)
	<-scrapeDone
	stop()
	got := h.sub.samples()
	if len(got) != want {
		return measurement{}, fmt.Errorf("received %d results, want %d", len(got), want)
	}
	m := figures(got)
	m.MetricsMeanMs = stages
	if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.PeakRSSMB = float64(u.Maxrss) / 1024 // kB on Linux
	}
	return m, nil
}

// figures computes throughput, latency and CPU from received results.
func figures(got []sample) measurement {
	m := measurement{Frames: len(got)}
	if span := got[len(got)-1].at.Sub(got[0].at); span > 0 {
		m.FPS = float64(len(got)-1) / span.Seconds()
	}
	lat := make([]float64, len(got))
	inf := make([]float64, len(got))
	over := make([]float64, len(got))
	var st [3][]float64
	var before, after []float64 // edged: read to invoke (less the invoke), inference end to the subscriber
	for i, s := range got {
		if s.total > 0 {
			before = append(before, msf(s.total-s.infer))
			after = append(after, msf(s.latency-s.total))
		}
		lat[i], inf[i], over[i] = msf(s.latency), msf(s.infer), msf(s.latency-s.infer)
		for k := range st {
			st[k] = append(st[k], s.stages[k])
		}
	}
	m.P50ms, m.P99ms = pct(lat, 50), pct(lat, 99)
	m.InferP50ms, m.OverheadP50ms = pct(inf, 50), pct(over, 50)
	if pct(st[0], 99) > 0 || pct(st[1], 99) > 0 {
		m.StagesP50ms = map[string]float64{"capture": pct(st[0], 50), "preprocess": pct(st[1], 50), "infer": pct(st[2], 50)}
		if len(before) > 0 {
			m.StagesP50ms["in_process_overhead"] = pct(before, 50)
			m.StagesP50ms["in_process_overhead_p99"] = pct(before, 99)
			m.StagesP50ms["delivery"] = pct(after, 50)
			m.StagesP50ms["delivery_p99"] = pct(after, 99)
		}
	}
	// CPU per frame between the first and last results whose publisher's
	// CPU time could be read (the baseline may have exited by the last).
	first, last := -1, -1
	for i, s := range got {
		if s.cpu > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 && last > first {
		m.CPUPerFrameMs = (got[last].cpu - got[first].cpu) / float64(last-first) * 1000
	}
	return m
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the p-th percentile (nearest rank) of v; v is reordered.
func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// scrapeStages reads edged's /metrics and returns the mean time per frame
// of each pipeline stage in ms (over every camera), or nil if unavailable.
func scrapeStages(port int) map[string]float64 {
	c := http.Client{Timeout: 10 * time.Second}
	var resp *http.Response
	for try := 0; ; try++ {
		var err error
		resp, err = c.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if err == nil {
			resp.Body.Close()
		}
		if try == 1 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer resp.Body.Close()
	sum, count := map[string]float64{}, map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		var into map[string]float64
		switch {
		case strings.HasPrefix(line, "edged_stage_duration_seconds_sum{"):
			into = sum
		case strings.HasPrefix(line, "edged_stage_duration_seconds_count{"):
			into = count
		default:
			continue
		}
		_, rest, _ := strings.Cut(line, `stage="`)
		stage, _, _ := strings.Cut(rest, `"`)
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if stage == "" || err != nil {
			continue
		}
		into[stage] += v
	}
	if len(count) == 0 {
		return nil
	}
	out := map[string]float64{}
	for k, n := range count {
		if n > 0 {
			out[k] = round(sum[k] / n * 1000)
		}
	}
	return out
}
