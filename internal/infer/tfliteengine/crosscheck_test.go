package tfliteengine

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
	"github.com/edged-io/edged/internal/testenv"
)

// TestCheckerAgreesWithRuntime compares, for every model at hand (the
// bundled ones and the conformance corpus), what the pure-Go checker reads
// from the file with what the runtime reports once the model is loaded:
// names, types, shapes and quantization of each input and output. The two
// read the same flatbuffer independently, so any disagreement is a bug in
// the checker that `edged model inspect` would show users.
func TestCheckerAgreesWithRuntime(t *testing.T) {
	e := openEngine(t)
	root := testenv.Root(t)
	var paths []string
	for _, pattern := range []string{"models/*.tflite", "third_party/mediapipe/*.tflite"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Skip("no models (build the default model, make conformance-models)")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			info, _, err := modelfile.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := infer.LoadFile(e, path, infer.Options{Threads: 1, Accelerate: "off"})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s, err := m.NewSession()
			var ue *infer.UnsupportedOpError
			if errors.As(err, &ue) {
				// Only the selfie segmentation models, whose error
				// TestCustomOpNamed checks.
				t.Logf("no interpreter to compare with: %v", ue.Op)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			compare(t, "input", info.Inputs, s.Inputs())
			compare(t, "output", info.Outputs, s.Outputs())
		})
	}
}

func compare(t *testing.T, kind string, file []modelfile.Tensor, rt []infer.TensorInfo) {
	t.Helper()
	if len(file) != len(rt) {
		t.Fatalf("%d %ss in the file, %d in the runtime", len(file), kind, len(rt))
	}
	for i := range file {
		f, r := file[i], rt[i]
		if f.Name != r.Name || f.Type != r.TypeName || fmt.Sprint(f.Shape) != fmt.Sprint(r.Shape) {
			t.Errorf("%s %d: file says %q %s %v, runtime %q %s %v", kind, i, f.Name, f.Type, f.Shape, r.Name, r.TypeName, r.Shape)
		}
		// The runtime's per-tensor parameters are the first (only) scale
		// and zero point; an unquantized tensor has none in the file and a
		// zero scale in the runtime.
		var scale float32
		var zp int64
		if len(f.Scale) > 0 && !f.PerAxis {
			scale = f.Scale[0]
		}
		if len(f.ZeroPoint) > 0 && !f.PerAxis {
			zp = f.ZeroPoint[0]
		}
		if scale != r.Quant.Scale || zp != int64(r.Quant.ZeroPoint) {
			t.Errorf("%s %d (%s): file quantization %v/%v, runtime %v/%v", kind, i, f.Name, f.Scale, f.ZeroPoint, r.Quant.Scale, r.Quant.ZeroPoint)
		}
		if want := r.Elements() * r.Type.Size(); r.Type.Size() > 0 && r.Bytes != want {
			t.Errorf("%s %d (%s): runtime buffer of %d bytes, want %d", kind, i, f.Name, r.Bytes, want)
		}
	}
}
