package preprocess

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/edged-io/edged/internal/infer"
)

// planCase is a frame size, a spec and the plan worked out by hand.
type planCase struct {
	name      string
	spec      Spec
	w, h      int
	crop, dst Rect
}

// checkPlans runs Spec.Plan on every case and compares with the hand-made plan.
func checkPlans(t *testing.T, cases []planCase) {
	t.Helper()
	for _, c := range cases {
		crop, dst, err := c.spec.Plan(c.w, c.h)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if crop != c.crop || dst != c.dst {
			t.Errorf("%s: crop %+v dst %+v, want %+v %+v", c.name, crop, dst, c.crop, c.dst)
		}
	}
}

func TestPlan(t *testing.T) {
	checkPlans(t, []planCase{
		{"stretch whole", Spec{Width: 224, Height: 224}, 640, 480, Rect{0, 0, 640, 480}, Rect{0, 0, 224, 224}},
		// 640x480 into 224x224: the centred 480x480 square.
		{"center-crop landscape", Spec{Mode: CenterCrop, Width: 224, Height: 224}, 640, 480, Rect{80, 0, 480, 480}, Rect{0, 0, 224, 224}},
		{"center-crop portrait", Spec{Mode: CenterCrop, Width: 100, Height: 50}, 300, 400, Rect{0, 125, 300, 150}, Rect{0, 0, 100, 50}},
		// 640x480 letterboxed into 224x224: scale 0.35 → 224x168, 28 rows above.
		{"letterbox", Spec{Mode: Letterbox, Width: 224, Height: 224}, 640, 480, Rect{0, 0, 640, 480}, Rect{0, 28, 224, 168}},
		{"roi then stretch", Spec{ROI: Rect{100, 50, 200, 100}, Width: 10, Height: 10}, 640, 480, Rect{100, 50, 200, 100}, Rect{0, 0, 10, 10}},
		// ROI 600..700 clipped to the 640-wide frame, then letterboxed 40x100 into 20x20.
		{"roi clipped letterbox", Spec{ROI: Rect{600, 0, 100, 100}, Mode: Letterbox, Width: 20, Height: 20}, 640, 480, Rect{600, 0, 40, 100}, Rect{6, 0, 8, 20}},
	})
	bad := []Spec{
		{Mode: "zoom", Width: 1, Height: 1},
		{Width: 0, Height: 1},
		{ROI: Rect{700, 0, 10, 10}, Width: 1, Height: 1},
		{ROI: Rect{-1, 0, 10, 10}, Width: 1, Height: 1},
	}
	for _, s := range bad {
		if _, _, err := s.Plan(640, 480); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func tensor(typ infer.DType, scale float32, zp int32) infer.TensorInfo {
	return infer.TensorInfo{Name: "in", Type: typ, Shape: []int{1, 1, 2, 3}, Quant: infer.Quant{Scale: scale, ZeroPoint: zp}}
}

// Two BGR pixels: (b,g,r) = (10,20,30) and (0,128,255).
var pixels = []byte{10, 20, 30, 0, 128, 255}

func TestConvertUint8(t *testing.T) {
	c, err := NewConverter(tensor(infer.DTypeUint8, 1, 0), Norm{}, false)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 6)
	if err := c.Convert(dst, pixels); err != nil {
		t.Fatal(err)
	}
	want := []byte{30, 20, 10, 255, 128, 0} // RGB, raw
	if string(dst) != string(want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	c, _ = NewConverter(tensor(infer.DTypeUint8, 1, 0), Norm{}, true)
	c.Convert(dst, pixels)
	if string(dst) != string(pixels) {
		t.Errorf("BGR model: got %v, want %v", dst, pixels)
	}
}

func TestConvertInt8(t *testing.T) {
	// Full range: pixel-128.
	c, err := NewConverter(tensor(infer.DTypeInt8, 1.0/255, -128), Norm{}, false)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 6)
	c.Convert(dst, pixels)
	want := []int8{30 - 128, 20 - 128, 10 - 128, 127, 0, -128}
	for i, w := range want {
		if int8(dst[i]) != w {
			t.Errorf("full range [%d] = %d, want %d", i, int8(dst[i]), w)
		}
	}
	// With mean/std: real = (p-127.5)/127.5, scale 1/128, zp 0:
	// q = round(real*128): p=30 → -97.88 → -98; p=255 → 128 → clamped 127;
	// p=0 → -128; p=128 → 0.50196 → round-half-even of 0.50196*… = 1 (0.502*128=0.50196? no: 0.0039216*128=0.50196 → 1)
	n := Norm{Mean: [3]float32{127.5, 127.5, 127.5}, Std: [3]float32{127.5, 127.5, 127.5}}
	c, err = NewConverter(tensor(infer.DTypeInt8, 1.0/128, 0), n, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Convert(dst, pixels)
	want = []int8{-98, -108, -118, 127, 1, -128}
	for i, w := range want {
		if int8(dst[i]) != w {
			t.Errorf("mean/std [%d] = %d, want %d", i, int8(dst[i]), w)
		}
	}
	// uint8 with zero point 128 and scale 2/255, mean 0 std 255 (real in [0,1]):
	// q = round(p/255 / (2/255) + 128) = round(p/2 + 128): p=30 → 143, p=255 → 255.5 → clamp 255, p=10 → 133.
	c, err = NewConverter(tensor(infer.DTypeUint8, 2.0/255, 128), Norm{Std: [3]float32{255, 255, 255}}, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Convert(dst, pixels)
	if want := []byte{143, 138, 133, 255, 192, 128}; string(dst) != string(want) {
		t.Errorf("uint8 zp 128: got %v, want %v", dst, want)
	}
}

func TestConvertFloat(t *testing.T) {
	c, err := NewConverter(tensor(infer.DTypeFloat32, 0, 0), Norm{}, false)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 24)
	if err := c.Convert(dst, pixels); err != nil {
		t.Fatal(err)
	}
	want := []float32{(30 - 127.5) / 127.5, (20 - 127.5) / 127.5, (10 - 127.5) / 127.5, 1, (128 - 127.5) / 127.5, -1}
	for i, w := range want {
		got := math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:]))
		if math.Abs(float64(got-w)) > 1e-6 {
			t.Errorf("[%d] = %v, want %v", i, got, w)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	c, _ := NewConverter(tensor(infer.DTypeUint8, 1, 0), Norm{}, false)
	if err := c.Convert(make([]byte, 6), pixels[:3]); err == nil {
		t.Error("short image accepted")
	}
	if err := c.Convert(make([]byte, 5), pixels); err == nil {
		t.Error("short buffer accepted")
	}
	if _, err := NewConverter(infer.TensorInfo{Type: infer.DTypeUint8, Shape: []int{1, 4}}, Norm{}, false); err == nil {
		t.Error("2-D input accepted")
	}
	if _, err := NewConverter(tensor(infer.DTypeInt16, 1, 0), Norm{}, false); err == nil {
		t.Error("int16 input accepted")
	}
}

func TestConvertAllocs(t *testing.T) {
	in := infer.TensorInfo{Type: infer.DTypeUint8, Shape: []int{1, 224, 224, 3}, Quant: infer.Quant{Scale: 1}}
	c, _ := NewConverter(in, Norm{}, false)
	src, dst := make([]byte, 224*224*3), make([]byte, 224*224*3)
	if n := testing.AllocsPerRun(20, func() { c.Convert(dst, src) }); n != 0 {
		t.Errorf("%v allocations per Convert, want 0", n)
	}
}

func BenchmarkConvert(b *testing.B) {
	for _, typ := range []infer.DType{infer.DTypeUint8, infer.DTypeFloat32} {
		b.Run(typ.String(), func(b *testing.B) {
			in := infer.TensorInfo{Type: typ, Shape: []int{1, 224, 224, 3}, Quant: infer.Quant{Scale: 1}}
			c, _ := NewConverter(in, Norm{}, false)
			src, dst := make([]byte, 224*224*3), make([]byte, 224*224*3*typ.Size())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Convert(dst, src)
			}
		})
	}
}
