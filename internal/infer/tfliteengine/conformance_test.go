package tfliteengine

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
	"github.com/edged-io/edged/internal/testenv"
)

func openEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(testenv.Library(t, "tflite"))
	if err != nil {
		t.Fatalf("TFLite runtime: %v", err)
	}
	return e
}

func mediapipe(t testing.TB, name string) string {
	t.Helper()
	return testenv.ConformanceModel(t, name)
}

// TestConformance runs every real third-party model of the corpus through
// the checker and the runtime.
func TestConformance(t *testing.T) {
	e := openEngine(t)
	cases := []struct {
		file    string
		input   []int
		outputs int
		out0    []int  // shape of output 0
		op      string // an operator the model must be reported to use
		sparse  bool   // the model stores sparse (DENSIFY) weights
	}{
		{"face_detection_short_range.tflite", []int{1, 128, 128, 3}, 2, []int{1, 896, 16}, "CONV_2D", false},
		{"face_detection_full_range.tflite", []int{1, 192, 192, 3}, 2, []int{1, 2304, 16}, "CONV_2D", false},
		{"face_detection_full_range_sparse.tflite", []int{1, 192, 192, 3}, 2, []int{1, 2304, 16}, "DENSIFY", true},
		{"hand_landmark_full.tflite", []int{1, 224, 224, 3}, 4, []int{1, 63}, "FULLY_CONNECTED", false},
		{"hand_landmark_lite.tflite", []int{1, 224, 224, 3}, 4, []int{1, 63}, "LOGISTIC", false},
		{"palm_detection_full.tflite", []int{1, 192, 192, 3}, 2, []int{1, 2016, 18}, "PRELU", false},
		{"palm_detection_lite.tflite", []int{1, 192, 192, 3}, 2, []int{1, 2016, 18}, "PRELU", false},
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
			if got := info.Outputs[0].Shape; !equal(got, c.out0) {
				t.Errorf("output 0 shape %v, want %v", got, c.out0)
			}
			// Every MediaPipe model of the corpus stores float16 weights
			// that DEQUANTIZE ops widen to float32 at load.
			if !info.Float16 || info.Ops["DEQUANTIZE"] == 0 {
				t.Errorf("float16 weights not reported: float16=%v, DEQUANTIZE ops %d", info.Float16, info.Ops["DEQUANTIZE"])
			}
			if info.Sparse != c.sparse {
				t.Errorf("sparse tensors reported %v, want %v", info.Sparse, c.sparse)
			}
			if in := info.Inputs[0]; in.Type != "float32" || len(in.Scale) != 0 {
				t.Errorf("input %+v, want unquantized float32", in)
			}
			m, err := infer.LoadFile(e, path, infer.Options{Threads: 1})
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
			// A deterministic pseudo-image with values in [0,1).
			in := s.InputBuffer(0)
			if len(in) != s.Inputs()[0].Bytes || len(in) != 4*s.Inputs()[0].Elements() {
				t.Fatalf("input buffer of %d bytes for %+v", len(in), s.Inputs()[0])
			}
			for k := 0; k+4 <= len(in); k += 4 {
				binary.LittleEndian.PutUint32(in[k:], math.Float32bits(float32(k*7%256)/256))
			}
			if err := s.Invoke(); err != nil {
				t.Fatal(err)
			}
			if len(s.Outputs()) != c.outputs {
				t.Errorf("runtime reports %d outputs, want %d", len(s.Outputs()), c.outputs)
			}
			for i, o := range s.Outputs() {
				if len(s.OutputBuffer(i)) != o.Bytes || o.Bytes != o.Elements()*o.Type.Size() {
					t.Errorf("output %d: %d bytes for %+v", i, len(s.OutputBuffer(i)), o)
				}
				if o.Type != infer.DTypeFloat32 || !equal(o.Shape, info.Outputs[i].Shape) {
					t.Errorf("runtime output %d is %s %v, the file says %s %v", i, o.Type, o.Shape, info.Outputs[i].Type, info.Outputs[i].Shape)
				}
				for k := 0; k+4 <= len(s.OutputBuffer(i)); k += 4 {
					if v := math.Float32frombits(binary.LittleEndian.Uint32(s.OutputBuffer(i)[k:])); math.IsNaN(float64(v)) {
						t.Fatalf("output %d element %d is NaN", i, k/4)
					}
				}
			}
		})
	}
}

func TestCustomOpNamed(t *testing.T) {
	e := openEngine(t)
	path := mediapipe(t, "selfie_segmentation.tflite")
	m, err := infer.LoadFile(e, path, infer.Options{Threads: 1})
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
