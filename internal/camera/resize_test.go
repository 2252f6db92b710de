package camera

import (
	"image"
	"math"
	"testing"

	"gocv.io/x/gocv"
)

// photo1080p is a real photo stretched to 1920×1080, as a camera stream's
// frame.
func photo1080p(t testing.TB) gocv.Mat {
	t.Helper()
	src := gocv.IMRead(photos(t, "fruits.jpg")[0], gocv.IMReadColor)
	defer src.Close()
	big := gocv.NewMat()
	gocv.Resize(src, &big, image.Pt(1920, 1080), 0, 0, gocv.InterpolationCubic)
	return big
}

// TestShrinkMatchesAreaAveraging: halving a 1080p frame before the last
// resize gives what area averaging straight to the output gives, within
// a rounding's worth, for the sizes models ask for (stretched, center
// crop, letterbox), a strip and an odd-sized crop.
func TestShrinkMatchesAreaAveraging(t *testing.T) {
	big := photo1080p(t)
	defer big.Close()
	tmp := [2]gocv.Mat{gocv.NewMat(), gocv.NewMat()}
	defer tmp[0].Close()
	defer tmp[1].Close()
	got, want := gocv.NewMat(), gocv.NewMat()
	defer got.Close()
	defer want.Close()
	for _, tc := range []struct {
		name string
		crop image.Rectangle
		size image.Point
	}{
		{"stretch", image.Rect(0, 0, 1920, 1080), image.Pt(224, 224)},
		{"center-crop", image.Rect(420, 0, 1500, 1080), image.Pt(224, 224)},
		{"letterbox", image.Rect(0, 0, 1920, 1080), image.Pt(224, 126)},
		{"small model", image.Rect(0, 0, 1920, 1080), image.Pt(96, 96)},
		{"odd crop", image.Rect(3, 5, 1918, 1077), image.Pt(128, 128)},
		{"strip", image.Rect(0, 500, 1920, 620), image.Pt(64, 64)},
	} {
		region := big.Region(tc.crop)
		shrink(region, &got, tc.size, &tmp)
		gocv.Resize(region, &want, tc.size, 0, 0, gocv.InterpolationArea)
		region.Close()
		if got.Cols() != tc.size.X || got.Rows() != tc.size.Y {
			t.Fatalf("%s: got %dx%d, want %v", tc.name, got.Cols(), got.Rows(), tc.size)
		}
		a, _ := got.DataPtrUint8()
		b, _ := want.DataPtrUint8()
		var sum float64
		for i := range a {
			sum += math.Abs(float64(a[i]) - float64(b[i]))
		}
		mad := sum / float64(len(a))
		t.Logf("%s: mean absolute difference from area averaging %.2f of 255", tc.name, mad)
		if mad > 3 {
			t.Errorf("%s: differs from area averaging by %.2f per channel on average, want <= 3", tc.name, mad)
		}
	}
}

// BenchmarkShrink1080p: a 1080p frame to the default model's 224×224,
// halved first (shrink) against area averaging in one step.
func BenchmarkShrink1080p(b *testing.B) {
	big := photo1080p(b)
	defer big.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	tmp := [2]gocv.Mat{gocv.NewMat(), gocv.NewMat()}
	defer tmp[0].Close()
	defer tmp[1].Close()
	b.Run("halves", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			shrink(big, &dst, image.Pt(224, 224), &tmp)
		}
	})
	b.Run("area", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			gocv.Resize(big, &dst, image.Pt(224, 224), 0, 0, gocv.InterpolationArea)
		}
	})
}
