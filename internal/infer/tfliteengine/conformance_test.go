package tfliteengine

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
)

// repoRoot finds the repository root from the test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func openEngine(t testing.TB) *Engine {
	t.Helper()
	lib := os.Getenv("EDGED_TFLITE_LIB")
	if lib == "" {
		lib = filepath.Join(repoRoot(t), "third_party", "tflite", "linux_"+runtime.GOARCH, LibraryName)
	}
	e, err := Open(lib)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("TFLite runtime: %v", err)
		}
		t.Skipf("TFLite runtime not installed (make tflite-lib): %v", err)
	}
	return e
}

func mediapipe(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "third_party", "mediapipe", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("conformance model %s missing: run make conformance-models", p)
		}
		t.Skipf("conformance model %s missing (make conformance-models)", p)
	}
	return p
}

// TestConformance runs every real third-party model of the corpus through
// the checker and the runtime.
func TestConformance(t *testing.T) {
	e := openEngine(t)
	cases := []struct {
		file    string
		input   []int
		outputs int
		op      string // an operator the model must be reported to use
	}{
		{"face_detection_short_range.tflite", []int{1, 128, 128, 3}, 2, "CONV_2D"},
		{"face_detection_full_range.tflite", []int{1, 192, 192, 3}, 2, "CONV_2D"},
		{"face_detection_full_range_sparse.tflite", []int{1, 192, 192, 3}, 2, "DENSIFY"},
		{"hand_landmark_full.tflite", []int{1, 224, 224, 3}, 4, "CONV_2D"},
		{"hand_landmark_lite.tflite", []int{1, 224, 224, 3}, 4, "CONV_2D"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := mediapipe(t, c.file)
			info, _, err := modelfile.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Inputs[0].Shape; !equal(got, c.input) {
				t.Errorf("input shape %v, want %v", got, c.input)
			}
			if len(info.Outputs) != c.outputs {
				t.Errorf("%d outputs, want %d", len(info.Outputs), c.outputs)
			}
			if info.Ops[c.op] == 0 {
				t.Errorf("ops %v lack %s", info.Ops, c.op)
			}
			m, err := e.Load(path, infer.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !equal(s.Inputs()[0].Shape, c.input) || s.Inputs()[0].Type != infer.DTypeFloat32 {
				t.Errorf("runtime input %+v", s.Inputs()[0])
			}
			in := s.InputBuffer(0)
			for i := range in {
				in[i] = byte(i * 7)
			}
			if err := s.Invoke(); err != nil {
				t.Fatal(err)
			}
			for i, o := range s.Outputs() {
				if len(s.OutputBuffer(i)) != o.Bytes || o.Bytes != o.Elements()*o.Type.Size() {
					t.Errorf("output %d: %d bytes for %+v", i, len(s.OutputBuffer(i)), o)
				}
			}
		})
	}
}

func TestCustomOpNamed(t *testing.T) {
	e := openEngine(t)
	path := mediapipe(t, "selfie_segmentation.tflite")
	m, err := e.Load(path, infer.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.NewSession()
	var ue *infer.UnsupportedOpError
	if !errors.As(err, &ue) || ue.Op != "Convolution2DTransposeBias" {
		t.Fatalf("got %v, want an UnsupportedOpError naming Convolution2DTransposeBias", err)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkInvokeFloat measures a float model (MediaPipe's hand landmark
// model, 224x224) with and without XNNPACK.
func BenchmarkInvokeFloat(b *testing.B) {
	e := openEngine(b)
	path := mediapipe(b, "hand_landmark_lite.tflite")
	for _, acc := range []string{"on", "off"} {
		b.Run("xnnpack-"+acc, func(b *testing.B) {
			m, err := e.Load(path, infer.Options{Threads: 1, Accelerate: acc})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			s, err := m.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Invoke()
			}
		})
	}
}

func TestMissingLibraryIsClear(t *testing.T) {
	_, err := Open("/nonexistent/libtensorflowlite_c.so")
	if err == nil {
		t.Fatal("opened a library that does not exist")
	}
	for _, want := range []string{"/nonexistent/libtensorflowlite_c.so", "make tflite-lib", "EDGED_TFLITE_LIB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
