package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// report is bench/out/results.json.
type report struct {
	// Ratios compare the medians of the main comparison: the video, one
	// camera, one inference thread.
	Ratios      map[string]float64 `json:"ratios"`
	PhotoRatios map[string]float64 `json:"photo_ratios"` // the same on the photo folder
	Targets     map[string]bool    `json:"targets"`      // whether each target was met
	Groups      []group            `json:"groups"`
	Runs        []measurement      `json:"runs"`
	Repetitions int                `json:"repetitions"`
	Inputs      map[string]any     `json:"inputs"`
	Machine     map[string]string  `json:"machine"`
	Seconds     float64            `json:"seconds"`
	Live        *liveReport        `json:"live,omitempty"` // the live-stream section
	View        *viewReport        `json:"view,omitempty"` // the live view's cost (view.go)
	Pool        *poolReport        `json:"pool,omitempty"` // cameras per core (pool.go)
}

// group is every run of one contender and configuration: the median of
// each figure and its spread (min and max).
type group struct {
	Kind    string             `json:"kind"`
	Input   string             `json:"input"`
	Cameras int                `json:"cameras"`
	Threads int                `json:"threads"`
	Runs    int                `json:"runs"`
	Median  map[string]float64 `json:"median"`
	Min     map[string]float64 `json:"min"`
	Max     map[string]float64 `json:"max"`
}

// figureNames are the per-run figures a group summarizes, in table order.
var figureNames = []string{"fps", "p50_ms", "p99_ms", "infer_p50_ms", "overhead_p50_ms", "cpu_per_frame_ms", "peak_rss_mb"}

func (m measurement) figures() map[string]float64 {
	f := map[string]float64{
		"fps": m.FPS, "p50_ms": m.P50ms, "p99_ms": m.P99ms, "infer_p50_ms": m.InferP50ms,
		"overhead_p50_ms": m.OverheadP50ms, "cpu_per_frame_ms": m.CPUPerFrameMs, "peak_rss_mb": m.PeakRSSMB,
	}
	for k, v := range m.StagesP50ms {
		f["stage_"+k+"_p50_ms"] = v
	}
	for k, v := range m.MetricsMeanMs {
		f["metrics_"+k+"_mean_ms"] = v
	}
	return f
}

func summarize(runs []measurement) report {
	var groups []group
	values := map[string]map[string][]float64{} // by group key, by figure
	key := func(m measurement) string { return fmt.Sprint(m.Kind, "/", m.Input, "/", m.Cameras, "/", m.Threads) }
	for _, m := range runs {
		k := key(m)
		if values[k] == nil {
			values[k] = map[string][]float64{}
			groups = append(groups, group{Kind: m.Kind, Input: m.Input, Cameras: m.Cameras, Threads: m.Threads})
		}
		for f, v := range m.figures() {
			values[k][f] = append(values[k][f], v)
		}
	}
	for i := range groups {
		g := &groups[i]
		vs := values[key(measurement{Kind: g.Kind, Input: g.Input, Cameras: g.Cameras, Threads: g.Threads})]
		g.Runs = len(vs["fps"])
		g.Median, g.Min, g.Max = map[string]float64{}, map[string]float64{}, map[string]float64{}
		for k, v := range vs {
			slices.Sort(v)
			g.Median[k], g.Min[k], g.Max[k] = round(median(v)), round(v[0]), round(v[len(v)-1])
		}
	}
	r := report{Groups: groups, Runs: runs}
	get := func(kind, input string) map[string]float64 {
		for _, g := range groups {
			if g.Kind == kind && g.Input == input && g.Cameras == 1 && g.Threads == 1 {
				return g.Median
			}
		}
		return nil
	}
	limit := get("limit", "")
	r.Ratios = ratios(get("edged", "video"), get("python", "video"), limit)
	if nq := get("edged-noqueue", "video"); nq != nil {
		r.Ratios["edged_noqueue_overhead_ms_p50"] = nq["overhead_p50_ms"]
		if limit["fps"] > 0 {
			r.Ratios["edged_noqueue_vs_limit_throughput"] = round(nq["fps"] / limit["fps"])
		}
	}
	r.PhotoRatios = ratios(get("edged", "photos"), get("python", "photos"), limit)
	r.Targets = map[string]bool{
		"edged_vs_limit_throughput >= 0.9":  r.Ratios["edged_vs_limit_throughput"] >= 0.9,
		"edged_vs_python_throughput >= 1.5": r.Ratios["edged_vs_python_throughput"] >= 1.5,
		"edged_vs_python_rss <= 0.5":        r.Ratios["edged_vs_python_rss"] > 0 && r.Ratios["edged_vs_python_rss"] <= 0.5,
		"edged_vs_python_p99 < 1":           r.Ratios["edged_vs_python_p99"] > 0 && r.Ratios["edged_vs_python_p99"] < 1,
		"edged_overhead_ms_p50 < 2":         r.Ratios["edged_overhead_ms_p50"] < 2,
	}
	return r
}

func ratios(edged, python, limit map[string]float64) map[string]float64 {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return round(a / b)
	}
	return map[string]float64{
		"edged_vs_limit_throughput":     div(edged["fps"], limit["fps"]),
		"edged_vs_python_throughput":    div(edged["fps"], python["fps"]),
		"edged_vs_python_rss":           div(edged["peak_rss_mb"], python["peak_rss_mb"]),
		"edged_vs_python_p99":           div(edged["p99_ms"], python["p99_ms"]),
		"edged_vs_python_cpu_per_frame": div(edged["cpu_per_frame_ms"], python["cpu_per_frame_ms"]),
		"edged_vs_limit_cpu_per_frame":  div(edged["cpu_per_frame_ms"], limit["cpu_per_frame_ms"]),
		"edged_overhead_ms_p50":         edged["overhead_p50_ms"],
	}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// printTable writes the groups and ratios as a short table.
func printTable(w io.Writer, r report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tinput\tcams\tthreads\truns\tfps\tp50 ms\tp99 ms\tinfer ms\toverhead ms\tcpu ms/frame\tpeak RSS MB\t")
	for _, g := range r.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t", g.Kind, g.Input, g.Cameras, g.Threads, g.Runs)
		for _, k := range figureNames {
			if g.Median[k] == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			if g.Runs > 1 {
				fmt.Fprintf(tw, "%.1f [%.1f-%.1f]\t", g.Median[k], g.Min[k], g.Max[k])
			} else {
				fmt.Fprintf(tw, "%.1f\t", g.Median[k])
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nratios (medians; video, 1 camera, 1 thread | photo folder):")
	keys := make([]string, 0, len(r.Ratios))
	for k := range r.Ratios {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-34s %8.3f | %8.3f\n", k, r.Ratios[k], r.PhotoRatios[k])
	}
	for _, g := range r.Groups {
		if g.Kind == "edged" && g.Input == "video" && g.Cameras == 1 && g.Threads == 1 {
			fmt.Fprintf(w, "edged stages (video, p50 ms from the payload / mean ms from /metrics): capture %.2f/%.2f  preprocess %.2f/%.2f  infer %.2f/%.2f  publish -/%.2f\n",
				g.Median["stage_capture_p50_ms"], g.Median["metrics_capture_mean_ms"],
				g.Median["stage_preprocess_p50_ms"], g.Median["metrics_preprocess_mean_ms"],
				g.Median["stage_infer_p50_ms"], g.Median["metrics_infer_mean_ms"], g.Median["metrics_publish_mean_ms"])
		}
		if (g.Kind == "edged" || g.Kind == "edged-noqueue") && g.Input == "video" && g.Cameras == 1 && g.Threads == 1 {
			fmt.Fprintf(w, "%s overhead split, ms p50 (p99): read start to inference end less the invoke %.2f (%.2f), inference end to the subscriber %.2f (%.2f)\n", g.Kind,
				g.Median["stage_in_process_overhead_p50_ms"], g.Median["stage_in_process_overhead_p99_p50_ms"],
				g.Median["stage_delivery_p50_ms"], g.Median["stage_delivery_p99_p50_ms"])
		}
	}
	tkeys := make([]string, 0, len(r.Targets))
	for k := range r.Targets {
		tkeys = append(tkeys, k)
	}
	slices.Sort(tkeys)
	fmt.Fprintln(w, "targets:")
	for _, k := range tkeys {
		fmt.Fprintf(w, "  %-36s %v\n", k, r.Targets[k])
	}
}

// describeMachine records what the figures were measured on.
func describeMachine(edged string) map[string]string {
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	m := map[string]string{
		"go":     runtime.Version(),
		"arch":   runtime.GOARCH,
		"cpus":   fmt.Sprint(runtime.NumCPU()),
		"kernel": run("uname", "-r"),
		"opencv": run("pkg-config", "--modversion", "opencv4"),
		"edged":  run(edged, "version"),
	}
	for _, l := range strings.Split(run("lscpu"), "\n") {
		if v, ok := strings.CutPrefix(l, "Model name:"); ok {
			m["cpu"] = strings.TrimSpace(v)
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(data), "\n"); ok {
			m["memory"] = strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_end"] = strings.TrimSpace(string(data))
	}
	return m
}
