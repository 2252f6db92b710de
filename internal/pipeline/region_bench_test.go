package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/preprocess"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gridRegions tiles a frame with n regions (fractions), all on m.
func gridRegions(m *Model, n int, trig Trigger) []RegionSpec {
	cols := min(n, 4)
	rows := (n + cols - 1) / cols
	var out []RegionSpec
	for i := range n {
		c, r := i%cols, i/cols
		out = append(out, RegionSpec{Name: fmt.Sprintf("r%d", i), Model: m, Trigger: trig, Confirm: 3, MinScore: 0.3,
			Box: preprocess.Box{X: preprocess.Coord{V: float64(c) / float64(cols), Frac: true}, Y: preprocess.Coord{V: float64(r) / float64(rows), Frac: true},
				W: preprocess.Coord{V: 1 / float64(cols), Frac: true}, H: preprocess.Coord{V: 1 / float64(rows), Frac: true}}})
	}
	return out
}

// BenchmarkRegions measures CPU per frame of the real runtime and model
// with 1, 4 and 8 regions, batched against one by one, and CPU per frame
// on a still scene with 4 regions gated by motion against every frame.
// The configurations are interleaved within each repetition; the figures
// are medians (make bench-regions; docs/performance.md).
func BenchmarkRegions(b *testing.B) {
	e := engine(b)
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Options: infer.Options{Threads: 1}, Post: infer.PostConfig{TopK: 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	moving := video(b, 8, "space_shuttle.jpg", "orange.jpg", "baboon.jpg", "fruits.jpg")
	still := video(b, 32, "baboon.jpg")
	type config struct {
		name    string
		source  string
		regions int
		batch   bool
		trig    Trigger
	}
	every := Trigger{Mode: Every}
	motion := Trigger{Mode: Motion, Threshold: 12, MinArea: 0.02, Heartbeat: time.Minute}
	configs := []config{
		{"regions=1", moving, 1, false, every},
		{"regions=4/one-by-one", moving, 4, false, every},
		{"regions=4/batched", moving, 4, true, every},
		{"regions=8/one-by-one", moving, 8, false, every},
		{"regions=8/batched", moving, 8, true, every},
		{"still/every", still, 4, false, every},
		{"still/motion", still, 4, false, motion},
	}
	cpu := map[string][]float64{}
	for range b.N {
		for _, c := range configs {
			spec := cameraSpec("c", c.source, false, m)
			spec.Regions = gridRegions(m, c.regions, c.trig)
			rec := &recorder{}
			p, err := New(Options{Cameras: []CameraSpec{spec}, Sink: rec, Log: slog.New(slog.DiscardHandler), Batch: map[bool]string{true: BatchOn, false: BatchOff}[c.batch]})
			if err != nil {
				b.Fatal(err)
			}
			c0 := cpuTime()
			if err := p.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			used := cpuTime() - c0
			p.Close()
			frames := 32
			cpu[c.name] = append(cpu[c.name], float64(used.Microseconds())/1000/float64(frames))
		}
	}
	med := func(name string) float64 {
		v := slices.Clone(cpu[name])
		slices.Sort(v)
		return v[len(v)/2]
	}
	for _, c := range configs {
		b.ReportMetric(med(c.name), c.name+"-cpu-ms/frame")
	}
	b.ReportMetric(med("regions=4/batched")/med("regions=4/one-by-one"), "batched/one-by-one@4")
	b.ReportMetric(med("regions=8/batched")/med("regions=8/one-by-one"), "batched/one-by-one@8")
	b.ReportMetric(med("still/motion")/med("still/every"), "motion/every@still")
}
