package tfliteengine

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/edged-io/edged/internal/infer"
)

// TestConcurrentSessions runs sessions of one model from parallel
// goroutines, as the pipeline does with one session per camera: they share
// the model's bytes and weights, and each must compute exactly what a lone
// session computes on the same input. Run it with -race to check the
// binding's own bookkeeping as well.
func TestConcurrentSessions(t *testing.T) {
	for _, acc := range []string{"on", "off"} {
		t.Run("xnnpack-"+acc, func(t *testing.T) {
			m, _ := loadDefault(t, infer.Options{Threads: 1, Accelerate: acc})
			defer m.Close()
			img := spaceShuttleRGB(t, 224)

			ref, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			copy(ref.InputBuffer(0), img)
			if err := ref.Invoke(); err != nil {
				t.Fatal(err)
			}
			want := bytes.Clone(ref.OutputBuffer(0))
			ref.Close()

			const workers, rounds = 2, 2
			errs := make(chan error, workers)
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				s, err := m.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func(w int, s infer.Session) {
					defer wg.Done()
					defer s.Close()
					for r := 0; r < rounds; r++ {
						in := s.InputBuffer(0)
						if r == 0 {
							// Run on other data first, so that a session
							// reading another's memory cannot pass by luck.
							for i := range in {
								in[i] = byte(w + i)
							}
							if err := s.Invoke(); err != nil {
								errs <- fmt.Errorf("worker %d: %w", w, err)
								return
							}
						}
						copy(in, img)
						if err := s.Invoke(); err != nil {
							errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
							return
						}
						if got := s.OutputBuffer(0); !bytes.Equal(got, want) {
							errs <- fmt.Errorf("worker %d round %d: output differs from a lone session's", w, r)
							return
						}
					}
				}(w, s)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
