package main

// The live view's cost: CPU per inferred frame of edged on a looping video
// at a fixed rate with nobody watching, with one viewer (the page's
// refresh: a snapshot with the overlay twice a second), and with sample
// keeping on (a crop written for every frame); the three interleaved in
// each repetition, medians reported.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// viewOptions configure the view section.
type viewOptions struct {
	seconds time.Duration
	fps     float64
	reps    int
}

// viewRun is one contender's run.
type viewRun struct {
	Config      string  `json:"config"` // none, viewer, samples
	Frames      uint64  `json:"frames"`
	CPUSeconds  float64 `json:"cpu_s"`
	CPUmsFrame  float64 `json:"cpu_ms_per_frame"`
	Snapshots   int     `json:"snapshots"`
	SampleFiles int     `json:"sample_files"`
}

// viewReport is the section's medians, by configuration.
type viewReport struct {
	FPS      float64                       `json:"fps"`
	Seconds  float64                       `json:"seconds"`
	Runs     []viewRun                     `json:"runs"`
	MedianMS map[string]float64            `json:"median_cpu_ms_per_frame"`
	Ratio    map[string]float64            `json:"ratio_to_none"`
	Extra    map[string]map[string]float64 `json:"extra,omitempty"`
}

func runView(ctx context.Context, h *harness, vo viewOptions) (viewReport, error) {
	rep := viewReport{FPS: vo.fps, Seconds: vo.seconds.Seconds(), MedianMS: map[string]float64{}, Ratio: map[string]float64{}}
	for r := 0; r < vo.reps; r++ {
		for _, cfg := range []string{"none", "viewer", "samples"} {
			run, err := h.viewRun(ctx, cfg, vo)
			if err != nil {
				return rep, fmt.Errorf("view %s: %w", cfg, err)
			}
			h.log.Info("view run", "config", cfg, "frames", run.Frames, "cpu_ms_per_frame", round(run.CPUmsFrame), "snapshots", run.Snapshots)
			rep.Runs = append(rep.Runs, run)
		}
	}
	for _, cfg := range []string{"none", "viewer", "samples"} {
		var v []float64
		for _, r := range rep.Runs {
			if r.Config == cfg {
				v = append(v, r.CPUmsFrame)
			}
		}
		slices.Sort(v)
		rep.MedianMS[cfg] = round(v[len(v)/2])
	}
	for cfg, v := range rep.MedianMS {
		if rep.MedianMS["none"] > 0 {
			rep.Ratio[cfg] = round(v / rep.MedianMS["none"])
		}
	}
	return rep, nil
}

func (h *harness) viewRun(ctx context.Context, cfg string, vo viewOptions) (viewRun, error) {
	run := viewRun{Config: cfg}
	dir, err := os.MkdirTemp("", "edged-view")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return run, err
	}
	samples := ""
	if cfg == "samples" {
		samples = ", samples: {when: [interval], interval: 1ms, max_count: 100000}"
	}
	video, _ := filepath.Abs(h.in.video)
	model, _ := filepath.Abs(h.o.model)
	doc := fmt.Sprintf(`state_dir: %s
engine: %s
http: {addr: "127.0.0.1:%d"}
queue: {enabled: false}
models:
  - {name: default, path: %s}
cameras:
  - {name: cam, source: %s, fps: %g, loop: true%s}
`, dir, h.o.engine, port, model, video, vo.fps, samples)
	path := filepath.Join(dir, "edged.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return run, err
	}
	cmd := exec.CommandContext(ctx, h.o.edged, "run", "--config", path, "--no-mqtt")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return run, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	frames := func() (uint64, bool) {
		res, err := http.Get(base + "/healthz")
		if err != nil {
			return 0, false
		}
		defer res.Body.Close()
		var s struct {
			Inference map[string]struct {
				Frames uint64 `json:"frames"`
			} `json:"inference"`
		}
		if json.NewDecoder(res.Body).Decode(&s) != nil {
			return 0, false
		}
		f, ok := s.Inference["cam"]
		return f.Frames, ok && f.Frames > 0
	}
	// Warm up until frames flow, then a second more.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := frames(); ok {
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("edged never inferred a frame")
		}
		time.Sleep(100 * time.Millisecond)
	}
	sleepCtx(ctx, time.Second)
	f0, _ := frames()
	c0 := procCPU(cmd.Process.Pid)
	stop := make(chan struct{})
	done := make(chan int)
	go func() { // the viewer: what the page does, twice a second
		n := 0
		defer func() { done <- n }()
		if cfg != "viewer" {
			return
		}
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if res, err := http.Get(base + "/api/cameras/cam/snapshot.jpg?overlay=1"); err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					n++
				}
			}
		}
	}()
	sleepCtx(ctx, vo.seconds)
	close(stop)
	run.Snapshots = <-done
	c1 := procCPU(cmd.Process.Pid)
	f1, _ := frames()
	run.Frames, run.CPUSeconds = f1-f0, round(c1-c0)
	if run.Frames > 0 {
		run.CPUmsFrame = 1000 * (c1 - c0) / float64(run.Frames)
	}
	if cfg == "samples" {
		filepath.WalkDir(filepath.Join(dir, "samples"), func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Ext(d.Name()) == ".jpg" {
				run.SampleFiles++
			}
			return nil
		})
	}
	return run, nil
}

func printView(w io.Writer, r viewReport) {
	fmt.Fprintf(w, "\nThe live view's cost (a %.0f fps camera, %.0f s per run; medians of interleaved runs):\n", r.FPS, r.Seconds)
	fmt.Fprintf(w, "%-10s %18s %10s\n", "config", "CPU ms per frame", "vs none")
	for _, cfg := range []string{"none", "viewer", "samples"} {
		fmt.Fprintf(w, "%-10s %18.2f %10.2f\n", cfg, r.MedianMS[cfg], r.Ratio[cfg])
	}
}
