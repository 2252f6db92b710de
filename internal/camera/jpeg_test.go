package camera

import (
	"bufio"
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/preprocess"
)

func TestJPEGSize(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 321, 123)), nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, c := range []struct {
		name string
		data []byte
		w, h int
		ok   bool
	}{
		{"baseline", good, 321, 123, true},
		{"truncated in the header", good[:20], 0, 0, false},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0, 0, false},
		{"empty", nil, 0, 0, false},
		{"scan before a frame header", []byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2}, 0, 0, false},
		{"length shorter than itself", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 1}, 0, 0, false},
	} {
		w, h, ok := jpegSizeFrom(bufio.NewReader(bytes.NewReader(c.data)))
		if w != c.w || h != c.h || ok != c.ok {
			t.Errorf("%s: %d x %d %v, want %d x %d %v", c.name, w, h, ok, c.w, c.h, c.ok)
		}
	}
	// A real photo from a camera maker's pipeline (EXIF, several tables).
	for _, p := range photos(t, "baboon.jpg") {
		m := gocv.IMRead(p, gocv.IMReadUnchanged)
		defer m.Close()
		if w, h, ok := jpegSize(p); !ok || w != m.Cols() || h != m.Rows() {
			t.Errorf("%s: %d x %d %v, want %d x %d", p, w, h, ok, m.Cols(), m.Rows())
		}
	}
}

func FuzzJPEGSize(f *testing.F) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	f.Add(buf.Bytes())
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, ok := jpegSizeFrom(bufio.NewReader(bytes.NewReader(data)))
		if ok && (w <= 0 || h <= 0) {
			t.Errorf("ok with %d x %d", w, h)
		}
	})
}

// TestFolderDecodesLargeJPEGReduced: a photo four times the input's size is
// decoded at a quarter of its size, and the frame handed over matches the
// one from a full decode (an ROI covering the whole photo forces that).
func TestFolderDecodesLargeJPEGReduced(t *testing.T) {
	src := gocv.IMRead(photos(t, "fruits.jpg")[0], gocv.IMReadColor)
	defer src.Close()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(src, &big, image.Pt(1000, 1000), 0, 0, gocv.InterpolationCubic)
	dir := t.TempDir()
	path := filepath.Join(dir, "big.jpg")
	if !gocv.IMWriteWithParams(path, big, []int{gocv.IMWriteJpegQuality, 95}) {
		t.Fatal("cannot write the test photo")
	}
	sp := preprocess.Spec{Mode: preprocess.CenterCrop, Width: 224, Height: 224}
	c, err := New(Config{Name: "reduced", Source: dir, Spec: sp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeFlags(c.cfg.Spec, path); got != gocv.IMReadReducedColor4 {
		t.Errorf("decode flags %v, want a quarter-size decode (%v)", got, gocv.IMReadReducedColor4)
	}
	reduced := collect(t, c, 1, 0)

	sp.ROI = preprocess.Rect{W: 1000, H: 1000}
	full, err := New(Config{Name: "full", Source: dir, Spec: sp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeFlags(full.cfg.Spec, path); got != gocv.IMReadColor {
		t.Errorf("decode flags with an ROI %v, want a full decode", got)
	}
	whole := collect(t, full, 1, 0)
	if len(reduced) != 1 || len(whole) != 1 {
		t.Fatalf("frames: %d reduced, %d full; want 1 each", len(reduced), len(whole))
	}
	var sum float64
	for i := range reduced[0].Pixels {
		sum += math.Abs(float64(reduced[0].Pixels[i]) - float64(whole[0].Pixels[i]))
	}
	mad := sum / float64(len(reduced[0].Pixels))
	t.Logf("mean absolute difference, reduced against full decode: %.2f of 255", mad)
	if mad > 4 {
		t.Errorf("reduced decode differs from the full one by %.2f per channel on average, want <= 4", mad)
	}
	// A photo already near the input's size is decoded whole.
	if err := os.WriteFile(filepath.Join(dir, "small.jpg"), mustJPEG(t, 300, 300), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := decodeFlags(c.cfg.Spec, filepath.Join(dir, "small.jpg")); got != gocv.IMReadColor {
		t.Errorf("300x300 photo: decode flags %v, want a full decode", got)
	}
}

func mustJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
