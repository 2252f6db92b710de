package litertengine

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/testenv"
)

// BenchmarkInvoke compares the two engines' invoke alone (inputs filled
// once) on the same model with the same thread count, interleaved: each
// iteration invokes TFLite then LiteRT, so both see the same machine state.
// It reports each engine's median and 90th percentile in ms:
//
//	go test -run '^$' -bench Invoke -benchtime 50x ./internal/infer/litertengine/
func BenchmarkInvoke(b *testing.B) {
	le := openEngine(b)
	te := openTFLite(b)
	root := testenv.Root(b)
	models := map[string]string{
		"int8":  filepath.Join(root, "models", "efficientnet_lite0_int8.tflite"),
		"float": filepath.Join(root, "third_party", "mediapipe", "hand_landmark_full.tflite"),
	}
	for _, kind := range []string{"int8", "float"} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", kind, threads), func(b *testing.B) {
				opts := infer.Options{Threads: threads}
				ts := openSession(b, te, models[kind], opts)
				ls := openSession(b, le, models[kind], opts)
				var tt, lt []time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					t0 := time.Now()
					if err := ts.Invoke(); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if err := ls.Invoke(); err != nil {
						b.Fatal(err)
					}
					tt, lt = append(tt, t1.Sub(t0)), append(lt, time.Since(t1))
				}
				b.StopTimer()
				b.ReportMetric(ms(pct(tt, 50)), "tflite-p50-ms")
				b.ReportMetric(ms(pct(tt, 90)), "tflite-p90-ms")
				b.ReportMetric(ms(pct(lt, 50)), "litert-p50-ms")
				b.ReportMetric(ms(pct(lt, 90)), "litert-p90-ms")
			})
		}
	}
}

// openSession opens a session on path with every input byte set to a fixed
// pattern and runs one warm-up invoke.
func openSession(b *testing.B, e infer.Engine, path string, opts infer.Options) infer.Session {
	b.Helper()
	m, err := infer.LoadFile(e, path, opts)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { m.Close() })
	s, err := m.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for i := range s.Inputs() {
		buf := s.InputBuffer(i)
		for j := range buf {
			buf[j] = byte(j * 7)
		}
	}
	if err := s.Invoke(); err != nil {
		b.Fatal(err)
	}
	return s
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
