package modelfile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

// TestMediaPipeCorpus parses the third-party models `make
// conformance-models` fetches, without the runtime, and checks facts known
// about each.
func TestMediaPipeCorpus(t *testing.T) {
	dir := filepath.Join(testenv.Root(t), "third_party", "mediapipe")
	if _, err := os.Stat(filepath.Join(dir, ".stamp")); err != nil {
		testenv.Missing(t, "conformance models missing (make conformance-models)")
	}
	cases := []struct {
		file      string
		input     string // type and shape of input 0
		outputs   string // shapes of the outputs
		customOps []string
		op        string
	}{
		{"face_detection_short_range.tflite", "float32 [1 128 128 3]", "[1 896 16] [1 896 1]", nil, "CONV_2D"},
		{"face_detection_full_range_sparse.tflite", "float32 [1 192 192 3]", "[1 2304 16] [1 2304 1]", nil, "DENSIFY"},
		{"hand_landmark_lite.tflite", "float32 [1 224 224 3]", "[1 63] [1 1] [1 1] [1 63]", nil, "FULLY_CONNECTED"},
		{"palm_detection_lite.tflite", "float32 [1 192 192 3]", "[1 2016 18] [1 2016 1]", nil, "PRELU"},
		{"selfie_segmentation.tflite", "float32 [1 256 256 3]", "[1 256 256 1]", []string{"Convolution2DTransposeBias"}, "Convolution2DTransposeBias"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			info, _, err := ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Inputs[0].Type + " " + shape(info.Inputs[0].Shape); got != c.input {
				t.Errorf("input %s, want %s", got, c.input)
			}
			var outs []string
			for _, o := range info.Outputs {
				outs = append(outs, shape(o.Shape))
			}
			if got := strings.Join(outs, " "); got != c.outputs {
				t.Errorf("outputs %s, want %s", got, c.outputs)
			}
			if !slices.Equal(info.CustomOps, c.customOps) {
				t.Errorf("custom ops %v, want %v", info.CustomOps, c.customOps)
			}
			if info.Ops[c.op] == 0 {
				t.Errorf("ops %v lack %s", info.Ops, c.op)
			}
			var text strings.Builder
			if err := info.WriteText(&text); err != nil || !strings.Contains(text.String(), c.op) {
				t.Errorf("inspect text lacks %s (%v):\n%s", c.op, err, text.String())
			}
		})
	}
}

func shape(s []int) string { return fmt.Sprint(s) }

// BenchmarkParse measures checking the default model (5 MB) before load.
func BenchmarkParse(b *testing.B) {
	data := defaultModel(b)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
