package tfliteengine

import (
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
	"github.com/edged-io/edged/internal/testenv"
)

// spaceShuttleRGB decodes gocv's space shuttle photo and resizes it to
// size×size (nearest neighbour) as packed RGB.
func spaceShuttleRGB(t testing.TB, size int) []byte {
	t.Helper()
	f, err := os.Open(testenv.Photo(t, "space_shuttle.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := make([]byte, 0, size*size*3)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			r, g, bl, _ := img.At(b.Min.X+x*b.Dx()/size, b.Min.Y+y*b.Dy()/size).RGBA()
			out = append(out, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	_ = image.Point{}
	return out
}

func loadDefault(t testing.TB, opts infer.Options) (infer.Model, []string) {
	t.Helper()
	e := openEngine(t)
	path := filepath.Join(testenv.Root(t), "models", "efficientnet_lite0_int8.tflite")
	info, _, err := modelfile.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := infer.LoadFile(e, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, info.Labels
}

func TestDefaultModelSpaceShuttle(t *testing.T) {
	for _, acc := range []string{"on", "off"} {
		t.Run("xnnpack-"+acc, func(t *testing.T) {
			m, labels := loadDefault(t, infer.Options{Threads: 1, Accelerate: acc})
			defer m.Close()
			s, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			copy(s.InputBuffer(0), spaceShuttleRGB(t, 224))
			if err := s.Invoke(); err != nil {
				t.Fatal(err)
			}
			post, err := infer.NewPostprocessor(s.Outputs()[0], infer.PostConfig{Labels: labels, TopK: 3})
			if err != nil {
				t.Fatal(err)
			}
			top, err := post.TopK(s.OutputBuffer(0), nil)
			if err != nil {
				t.Fatal(err)
			}
			if top[0].Index != 812 || top[0].Label != "space shuttle" || top[0].Score < 0.5 {
				t.Fatalf("top-3 %+v, want space shuttle (812) first with score > 0.5", top)
			}
			if n := testing.AllocsPerRun(5, func() {
				s.Invoke()
				top, _ = post.TopK(s.OutputBuffer(0), top)
			}); n != 0 {
				t.Errorf("%v allocations per invoke + top-k, want 0", n)
			}
		})
	}
}
