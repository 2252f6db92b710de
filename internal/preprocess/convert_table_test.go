package preprocess

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
)

// TestConvertTable checks quantized conversions against hand-computed
// values: the full-range defaults, rounding, clamping and channel order.
// Every image is two BGR pixels; want is in the model's channel order.
func TestConvertTable(t *testing.T) {
	ones := [3]float32{1, 1, 1}
	cases := []struct {
		name  string
		typ   infer.DType
		scale float32
		zp    int32
		norm  Norm
		bgr   bool
		in    []byte
		want  []int // element values (int8 read as signed)
	}{
		// Full range, uint8 scale≈1/255: q = pixel.
		{"uint8 1/255 full range", infer.DTypeUint8, 1.0 / 255, 0, Norm{}, false,
			[]byte{10, 20, 30, 0, 128, 255}, []int{30, 20, 10, 255, 128, 0}},
		// An unquantized uint8 input also takes raw pixels.
		{"uint8 unquantized", infer.DTypeUint8, 0, 0, Norm{}, false,
			[]byte{10, 20, 30, 0, 128, 255}, []int{30, 20, 10, 255, 128, 0}},
		// Full range, int8: q = pixel-128.
		{"int8 full range", infer.DTypeInt8, 1.0 / 255, -128, Norm{}, false,
			[]byte{10, 20, 30, 0, 128, 255}, []int{-98, -108, -118, 127, 0, -128}},
		{"int8 full range BGR model", infer.DTypeInt8, 1.0 / 255, -128, Norm{}, true,
			[]byte{10, 20, 30, 0, 128, 255}, []int{-118, -108, -98, -128, 0, 127}},
		// scale 2, mean 0, std 1: q = round(p/2); every value is a tie,
		// rounded away from zero: 5/2→3, 3/2→2, 1/2→1, 11/2→6, 9/2→5, 7/2→4.
		{"uint8 ties round away from zero", infer.DTypeUint8, 2, 0, Norm{Std: ones}, false,
			[]byte{1, 3, 5, 7, 9, 11}, []int{3, 2, 1, 6, 5, 4}},
		// scale 2, zp 3, mean 10: q = round((p-10)/2)+3; negative ties go
		// away from zero before the zero point is added:
		// p=5 → round(-2.5)+3 = 0; p=7 → -2+3 = 1; p=9 → -1+3 = 2;
		// p=11 → 1+3 = 4; p=0 → -5+3 = -2; p=255 → 123+3 = 126.
		{"int8 negative ties then zero point", infer.DTypeInt8, 2, 3,
			Norm{Mean: [3]float32{10, 10, 10}, Std: ones}, false,
			[]byte{9, 7, 5, 255, 0, 11}, []int{0, 1, 2, 4, -2, 126}},
		// scale 1/256, std 255: q = round(p*256/255), clamped at 127:
		// 127 → 127.5 → 128 → 127; 128 → 128.5 → 129 → 127; 255 → 127; 2 → 2.
		{"int8 clamps high", infer.DTypeInt8, 1.0 / 256, 0, Norm{Std: [3]float32{255, 255, 255}}, false,
			[]byte{255, 128, 127, 0, 1, 2}, []int{127, 127, 127, 2, 1, 0}},
		// real = (p-127.5)/127.5, scale 1/255: q = round(real*255) =
		// round(2p-255), clamped at 0 below: p=0 → 0, p=100 → 0, p=128 → 1, p=200 → 145.
		{"uint8 clamps low", infer.DTypeUint8, 1.0 / 255, 0,
			Norm{Mean: [3]float32{127.5, 127.5, 127.5}, Std: [3]float32{127.5, 127.5, 127.5}}, false,
			[]byte{0, 100, 128, 200, 255, 0}, []int{128*2 - 255, 0, 0, 0, 255, 200*2 - 255}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConverter(tensor(tc.typ, tc.scale, tc.zp), tc.norm, tc.bgr)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, 6)
			if err := c.Convert(dst, tc.in); err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				got := int(dst[i])
				if tc.typ == infer.DTypeInt8 {
					got = int(int8(dst[i]))
				}
				if got != w {
					t.Errorf("element %d = %d, want %d (all: %v)", i, got, w, dst)
				}
			}
		})
	}
}

// TestConvertFloatPerChannel: mean/std are given in RGB order and follow
// each channel to wherever the model wants it.
func TestConvertFloatPerChannel(t *testing.T) {
	norm := Norm{Mean: [3]float32{100, 110, 120}, Std: [3]float32{2, 4, 8}}
	in := []byte{10, 20, 30, 0, 128, 255} // BGR
	// R: (p-100)/2, G: (p-110)/4, B: (p-120)/8.
	rgb := []float32{-35, -22.5, -13.75, 77.5, 4.5, -15}
	bgr := []float32{-13.75, -22.5, -35, -15, 4.5, 77.5}
	for _, tc := range []struct {
		name string
		bgr  bool
		want []float32
	}{{"rgb model", false, rgb}, {"bgr model", true, bgr}} {
		c, err := NewConverter(tensor(infer.DTypeFloat32, 0, 0), norm, tc.bgr)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 24)
		if err := c.Convert(dst, in); err != nil {
			t.Fatal(err)
		}
		for i, w := range tc.want {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:])); got != w {
				t.Errorf("%s: element %d = %v, want %v", tc.name, i, got, w)
			}
		}
	}
}

func TestConverterErrorsNameSizes(t *testing.T) {
	c, err := NewConverter(tensor(infer.DTypeFloat32, 0, 0), Norm{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Convert(make([]byte, 24), make([]byte, 5)); err == nil || !strings.Contains(err.Error(), "5 bytes, want 6") {
		t.Errorf("short image: %v, want an error naming 5 and 6 bytes", err)
	}
	if err := c.Convert(make([]byte, 6), make([]byte, 6)); err == nil || !strings.Contains(err.Error(), "6 bytes, want 24") {
		t.Errorf("uint8-sized buffer for a float input: %v, want an error naming 6 and 24 bytes", err)
	}
	bad := []struct {
		name string
		in   infer.TensorInfo
		norm Norm
	}{
		{"grey input", infer.TensorInfo{Type: infer.DTypeUint8, Shape: []int{1, 4, 4, 1}}, Norm{}},
		{"batch of 2", infer.TensorInfo{Type: infer.DTypeUint8, Shape: []int{2, 4, 4, 3}}, Norm{}},
		{"zero std", tensor(infer.DTypeFloat32, 0, 0), Norm{Mean: [3]float32{1, 1, 1}, Std: [3]float32{1, 0, 1}}},
		{"mean/std without quantization", tensor(infer.DTypeInt8, 0, 0), Norm{Std: [3]float32{1, 1, 1}}},
	}
	for _, b := range bad {
		if _, err := NewConverter(b.in, b.norm, false); err == nil {
			t.Errorf("%s: accepted", b.name)
		}
	}
}

func TestPlanMore(t *testing.T) {
	checkPlans(t, []planCase{
		// 480x640 portrait letterboxed into 224x224: scale 0.35 → 168x224, 28 columns left.
		{"letterbox portrait", Spec{Mode: Letterbox, Width: 224, Height: 224}, 480, 640, Rect{0, 0, 480, 640}, Rect{28, 0, 168, 224}},
		// 640x480 into 300x100: scale min(0.46875, 0.2083) → 133x100, (300-133)/2 = 83 left.
		{"letterbox wide output", Spec{Mode: Letterbox, Width: 300, Height: 100}, 640, 480, Rect{0, 0, 640, 480}, Rect{83, 0, 133, 100}},
		// ROI 300x100 center-cropped to a square: the middle 100x100.
		{"roi then center-crop", Spec{ROI: Rect{100, 100, 300, 100}, Mode: CenterCrop, Width: 224, Height: 224}, 640, 480, Rect{200, 100, 100, 100}, Rect{0, 0, 224, 224}},
		// Same aspect: letterbox and center-crop change nothing.
		{"letterbox same aspect", Spec{Mode: Letterbox, Width: 320, Height: 240}, 640, 480, Rect{0, 0, 640, 480}, Rect{0, 0, 320, 240}},
		{"center-crop same aspect", Spec{Mode: CenterCrop, Width: 320, Height: 240}, 640, 480, Rect{0, 0, 640, 480}, Rect{0, 0, 320, 240}},
		// A zero ROI means the whole frame.
		{"explicit stretch", Spec{Mode: Stretch, Width: 2, Height: 3}, 5, 7, Rect{0, 0, 5, 7}, Rect{0, 0, 2, 3}},
	})
	bad := []struct {
		name string
		spec Spec
		w, h int
	}{
		{"roi w without h", Spec{ROI: Rect{0, 0, 10, 0}, Width: 1, Height: 1}, 640, 480},
		{"roi starts below the frame", Spec{ROI: Rect{0, 480, 10, 10}, Width: 1, Height: 1}, 640, 480},
		{"huge output", Spec{Width: MaxSide + 1, Height: 1}, 640, 480},
		{"empty frame", Spec{Width: 1, Height: 1}, 0, 480},
		{"huge frame", Spec{Width: 1, Height: 1}, 640, MaxSide + 1},
	}
	for _, b := range bad {
		if _, _, err := b.spec.Plan(b.w, b.h); err == nil {
			t.Errorf("%s: accepted", b.name)
		}
	}
}
