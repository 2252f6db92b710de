package main

// More cameras per core: four cameras sharing one model on this machine,
// each reading the main video with every result published (QoS 1, queue
// on), with the shared inference pool (the default, pool: auto) and
// without it (pool: off, a session per camera); beside them the runtime's
// own ceilings: one session on 2 threads (the target's "2-thread limit"),
// two single-thread sessions at once (what a pool of two can reach), and
// batching's ceiling, two images per invoke (the TFLite engine: LiteRT
// 2.2's C API cannot resize an input). All interleaved in each repetition,
// medians reported.

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// poolContender is one configuration of the section.
type poolContender struct {
	Key  string `json:"key"`
	What string `json:"what"`
}

var poolContenders = []poolContender{
	{"limit-2threads", "runtime limit: 1 session, 2 threads"},
	{"limit-2sessions", "runtime limit: 2 sessions at once, 1 thread each"},
	{"tflite-2sessions", "TFLite engine: 2 sessions, 1 thread each"},
	{"tflite-2sessions-batch2", "TFLite engine: 2 sessions, 2 images per invoke"},
	{"edged-pool-off", "edged, 4 cameras, a session per camera (pool: off)"},
	{"edged-pool-auto", "edged, 4 cameras, shared pool (pool: auto)"},
}

// poolRun is one contender's run.
type poolRun struct {
	Key       string  `json:"key"`
	FPS       float64 `json:"fps"`
	CPUms     float64 `json:"cpu_ms_per_frame"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
}

// poolReport is the section's medians by contender and the ratios the
// target names.
type poolReport struct {
	Cameras     int                `json:"cameras"`
	Frames      int                `json:"frames_per_camera"`
	Contenders  []poolContender    `json:"contenders"`
	Runs        []poolRun          `json:"runs"`
	MedianFPS   map[string]float64 `json:"median_fps"`
	MedianCPUms map[string]float64 `json:"median_cpu_ms_per_frame"`
	MedianRSSMB map[string]float64 `json:"median_peak_rss_mb"`
	// Ratios: each edged contender's fps over the 2-thread limit and over
	// the 2-session limit, and batching's gain (batch 2 over batch 1).
	Ratios map[string]float64 `json:"ratios"`
}

const poolCameras = 4

func runPool(ctx context.Context, h *harness, reps int) (poolReport, error) {
	frames := h.in.videoFrames
	rep := poolReport{Cameras: poolCameras, Frames: frames, Contenders: poolContenders}
	images := poolCameras * frames // per run, so every contender runs about as long
	for r := 0; r < reps; r++ {
		for _, c := range poolContenders {
			var m measurement
			var err error
			switch c.Key {
			case "limit-2threads":
				m, err = h.invokeLimit(ctx, limitRun{threads: 2, sessions: 1, batch: 1}, images)
			case "limit-2sessions":
				m, err = h.invokeLimit(ctx, limitRun{threads: 1, sessions: 2, batch: 1}, images/2)
			case "tflite-2sessions":
				m, err = h.invokeLimit(ctx, limitRun{threads: 1, sessions: 2, batch: 1, engine: "tflite"}, images/2)
			case "tflite-2sessions-batch2":
				m, err = h.invokeLimit(ctx, limitRun{threads: 1, sessions: 2, batch: 2, engine: "tflite"}, images/4)
			case "edged-pool-off":
				m, err = h.edgedRun(ctx, "video", poolCameras, 1, true, "off")
			case "edged-pool-auto":
				m, err = h.edgedRun(ctx, "video", poolCameras, 1, true, "auto")
			}
			if err != nil {
				return rep, fmt.Errorf("pool section, %s: %w", c.Key, err)
			}
			run := poolRun{Key: c.Key, FPS: m.FPS, CPUms: m.CPUPerFrameMs, P50ms: m.P50ms, P99ms: m.P99ms, PeakRSSMB: m.PeakRSSMB}
			h.log.Info("pool run", "key", c.Key, "fps", round(run.FPS), "cpu_ms_per_frame", round(run.CPUms), "peak_rss_mb", round(run.PeakRSSMB))
			rep.Runs = append(rep.Runs, run)
		}
	}
	med := func(key string, f func(poolRun) float64) float64 {
		var vs []float64
		for _, r := range rep.Runs {
			if r.Key == key {
				vs = append(vs, f(r))
			}
		}
		if len(vs) == 0 {
			return 0
		}
		slices.Sort(vs)
		return median(vs)
	}
	rep.MedianFPS, rep.MedianCPUms, rep.MedianRSSMB, rep.Ratios = map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, c := range poolContenders {
		rep.MedianFPS[c.Key] = round(med(c.Key, func(r poolRun) float64 { return r.FPS }))
		rep.MedianCPUms[c.Key] = round(med(c.Key, func(r poolRun) float64 { return r.CPUms }))
		if v := med(c.Key, func(r poolRun) float64 { return r.PeakRSSMB }); v > 0 {
			rep.MedianRSSMB[c.Key] = round(v)
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return round(a / b)
	}
	for _, k := range []string{"edged-pool-auto", "edged-pool-off"} {
		rep.Ratios[k+"_vs_limit_2threads"] = ratio(rep.MedianFPS[k], rep.MedianFPS["limit-2threads"])
		rep.Ratios[k+"_vs_limit_2sessions"] = ratio(rep.MedianFPS[k], rep.MedianFPS["limit-2sessions"])
	}
	rep.Ratios["pool_auto_vs_off"] = ratio(rep.MedianFPS["edged-pool-auto"], rep.MedianFPS["edged-pool-off"])
	rep.Ratios["limit_2sessions_vs_2threads"] = ratio(rep.MedianFPS["limit-2sessions"], rep.MedianFPS["limit-2threads"])
	rep.Ratios["tflite_batch2_vs_batch1"] = ratio(rep.MedianFPS["tflite-2sessions-batch2"], rep.MedianFPS["tflite-2sessions"])
	return rep, nil
}

func printPool(w io.Writer, r poolReport) {
	fmt.Fprintf(w, "\n%d cameras on one model (%d frames each, every result published; medians of interleaved runs):\n", r.Cameras, r.Frames)
	fmt.Fprintf(w, "%-66s %8s %12s %10s\n", "contender", "fps", "CPU ms/frame", "peak RSS")
	for _, c := range r.Contenders {
		rss := "–"
		if v, ok := r.MedianRSSMB[c.Key]; ok {
			rss = fmt.Sprintf("%.1f MB", v)
		}
		fmt.Fprintf(w, "%-66s %8.1f %12.2f %10s\n", c.What, r.MedianFPS[c.Key], r.MedianCPUms[c.Key], rss)
	}
	keys := make([]string, 0, len(r.Ratios))
	for k := range r.Ratios {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %.3f\n", k, r.Ratios[k])
	}
}
