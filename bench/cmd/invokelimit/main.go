// Command invokelimit measures the runtime's own limit: the engine's
// (by default the one the daemon's "engine: auto" picks) invoke alone, on an input filled once, with no capture, no
// preprocessing and no publishing. It prints one JSON object (frames per
// second and invoke latency) for the benchmark harness (bench/cmd/bench).
//
//	invokelimit -model models/efficientnet_lite0_int8.tflite -threads 1 -n 300
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/engines"
)

// result is what invokelimit prints.
type result struct {
	Engine  string `json:"engine"`
	Threads int    `json:"threads"`
	// Sessions invoked at once, each on its own goroutine, and the batch
	// each invoke takes: FPS counts images (sessions × batch per round).
	Sessions int     `json:"sessions"`
	Batch    int     `json:"batch"`
	N        int     `json:"n"`
	FPS      float64 `json:"fps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// CPUms is the process's CPU time per invoke (user plus system), which
	// other load on the machine disturbs less than wall time.
	CPUms float64 `json:"cpu_per_frame_ms"`
}

func main() {
	model := flag.String("model", "models/efficientnet_lite0_int8.tflite", "model file")
	threads := flag.Int("threads", 1, "inference threads")
	n := flag.Int("n", 300, "timed invocations")
	warmup := flag.Int("warmup", 10, "untimed invocations first")
	lib := flag.String("tflite-lib", "", "path of libtensorflowlite_c.so (default: search the usual places)")
	litertLib := flag.String("litert-lib", "", "path of libLiteRt.so (default: search the usual places)")
	engine := flag.String("engine", "auto", "inference engine: auto (as edged chooses), tflite or litert")
	sessions := flag.Int("sessions", 1, "sessions invoking at once (each with -threads threads): a shared inference pool's ceiling")
	accel := flag.String("accelerate", "auto", "XNNPACK: auto, on or off (off: the runtime's own kernels)")
	batch := flag.Int("batch", 1, "images per invoke (the input's batch dimension resized): batching's ceiling")
	flag.Parse()
	r, err := run(engines.Options{Choice: *engine, TFLiteLib: *lib, LiteRTLib: *litertLib}, *model, *accel, *threads, *sessions, *batch, *n, *warmup)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invokelimit:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "invokelimit:", err)
		os.Exit(1)
	}
}

func run(eo engines.Options, model, accel string, threads, sessions, batch, n, warmup int) (result, error) {
	if n < 1 || sessions < 1 || batch < 1 {
		return result{}, fmt.Errorf("-n %d -sessions %d -batch %d: each must be at least 1", n, sessions, batch)
	}
	e, err := engines.Open(eo)
	if err != nil {
		return result{}, err
	}
	m, err := infer.LoadFile(e, model, infer.Options{Threads: threads, Accelerate: accel})
	if err != nil {
		return result{}, fmt.Errorf("load %s: %w", model, err)
	}
	defer m.Close()
	ss := make([]infer.Session, sessions)
	for k := range ss {
		s, err := m.NewSession()
		if err != nil {
			return result{}, fmt.Errorf("session on %s: %w", model, err)
		}
		defer s.Close()
		if batch > 1 {
			if err := infer.SetBatch(s, batch); err != nil {
				return result{}, fmt.Errorf("%s: %w", model, err)
			}
		}
		for i := range s.Inputs() {
			buf := s.InputBuffer(i)
			for j := range buf {
				buf[j] = byte(j * 7)
			}
		}
		for range warmup {
			if err := s.Invoke(); err != nil {
				return result{}, fmt.Errorf("invoke %s: %w", model, err)
			}
		}
		ss[k] = s
	}
	// Each session does n invokes on its own goroutine; the latencies are
	// of single invokes, the rate is of images over the whole run.
	lat := make([][]time.Duration, sessions)
	errs := make([]error, sessions)
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for k, s := range ss {
		lat[k] = make([]time.Duration, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lat[k] {
				t0 := time.Now()
				if err := s.Invoke(); err != nil {
					errs[k] = fmt.Errorf("invoke %s: %w", model, err)
					return
				}
				lat[k][i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	cpu := cpuTime() - cpu0
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	images := sessions * batch * n
	return result{
		Engine:   e.Name(),
		Threads:  threads,
		Sessions: sessions,
		Batch:    batch,
		N:        n,
		FPS:      float64(images) / total.Seconds(),
		P50ms:    ms(all[len(all)*50/100]),
		P99ms:    ms(all[min(len(all)-1, len(all)*99/100)]),
		CPUms:    ms(cpu) / float64(images),
	}, nil
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
