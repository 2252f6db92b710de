package infer

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/edged-io/edged/internal/result"
)

func f32(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func TestTopKUint8Probabilities(t *testing.T) {
	out := TensorInfo{Name: "p", Type: DTypeUint8, Shape: []int{1, 4}, Quant: Quant{Scale: 1.0 / 256}}
	p, err := NewPostprocessor(out, PostConfig{Labels: []string{"a", "b", "c", "d"}, TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.TopK([]byte{10, 200, 40, 6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Already a distribution (sums to 1): no softmax, scores are 200/256 and 40/256.
	if len(got) != 2 || got[0].Label != "b" || got[0].Score != 200.0/256 || got[1].Label != "c" || got[1].Index != 2 {
		t.Errorf("got %+v", got)
	}
}

func TestTopKInt8Dequantized(t *testing.T) {
	out := TensorInfo{Type: DTypeInt8, Shape: []int{1, 3}, Quant: Quant{Scale: 0.5, ZeroPoint: -128}}
	p, _ := NewPostprocessor(out, PostConfig{TopK: 3, Softmax: "off"})
	got, _ := p.TopK([]byte{0x80, 0x81, 0x82}, nil) // int8 -128, -127, -126
	// real = 0.5*(q+128): 0, 0.5, 1.0; the zero is left out.
	if len(got) != 2 || got[0].Index != 2 || got[0].Score != 1 || got[1].Score != 0.5 || got[0].Label != "2" {
		t.Errorf("got %+v", got)
	}
}

// TestTopKNoZeroPadding: a quantized softmax that puts all its mass on a
// few classes gives top-k only those, not the rest padded with zeros; a
// first label that scores zero is still reported.
func TestTopKNoZeroPadding(t *testing.T) {
	out := TensorInfo{Name: "p", Type: DTypeUint8, Shape: []int{1, 6}, Quant: Quant{Scale: 1.0 / 256}}
	p, err := NewPostprocessor(out, PostConfig{TopK: 5, Softmax: "off"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := p.TopK([]byte{0, 250, 0, 6, 0, 0}, nil)
	if len(got) != 2 || got[0].Index != 1 || got[1].Index != 3 {
		t.Errorf("got %+v, want classes 1 and 3 only", got)
	}
	got, _ = p.TopK([]byte{0, 0, 0, 0, 0, 0}, nil)
	if len(got) != 1 || got[0].Score != 0 {
		t.Errorf("all zero: got %+v, want one label scoring 0", got)
	}
}

func TestSoftmaxOnLogits(t *testing.T) {
	out := TensorInfo{Type: DTypeFloat32, Shape: []int{1, 3}}
	p, _ := NewPostprocessor(out, PostConfig{TopK: 3})
	got, _ := p.TopK(f32(1, 2, 3), nil)
	// softmax(1,2,3) = 0.0900, 0.2447, 0.6652
	want := []float32{0.66524, 0.24473, 0.09003}
	for i, w := range want {
		if math.Abs(float64(got[i].Score-w)) > 1e-4 || got[i].Index != 2-i {
			t.Errorf("[%d] = %+v, want index %d score %v", i, got[i], 2-i, w)
		}
	}
	p, _ = NewPostprocessor(out, PostConfig{TopK: 1, Softmax: "off"})
	got, _ = p.TopK(f32(0.1, 0.7, 0.2), nil)
	if got[0].Score != 0.7 {
		t.Errorf("softmax off: %+v", got)
	}
}

func TestThreshold(t *testing.T) {
	out := TensorInfo{Type: DTypeFloat32, Shape: []int{1, 4}}
	p, _ := NewPostprocessor(out, PostConfig{TopK: 4, Threshold: 0.25})
	got, _ := p.TopK(f32(0.1, 0.3, 0.5, 0.1), nil)
	if len(got) != 2 || got[0].Index != 2 || got[1].Index != 1 {
		t.Errorf("got %+v, want indexes 2 and 1 above 0.25", got)
	}
}

func TestPostprocessorErrors(t *testing.T) {
	cases := []struct {
		out TensorInfo
		cfg PostConfig
	}{
		{TensorInfo{Type: DTypeFloat32, Shape: []int{2, 3}}, PostConfig{}},
		{TensorInfo{Type: DTypeInt32, Shape: []int{1, 3}}, PostConfig{}},
		{TensorInfo{Type: DTypeUint8, Shape: []int{1, 3}}, PostConfig{}},
		{TensorInfo{Type: DTypeFloat32, Shape: []int{1, 3}}, PostConfig{Labels: []string{"a", "b"}}},
		{TensorInfo{Type: DTypeFloat32, Shape: []int{1, 3}}, PostConfig{Softmax: "maybe"}},
	}
	for i, c := range cases {
		if _, err := NewPostprocessor(c.out, c.cfg); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	p, _ := NewPostprocessor(TensorInfo{Type: DTypeFloat32, Shape: []int{1, 3}}, PostConfig{})
	if _, err := p.TopK(make([]byte, 8), nil); err == nil {
		t.Error("short output accepted")
	}
}

// TestSoftmaxAuto checks when "auto" applies softmax: float outputs are
// judged by their values, quantized ones by the range their quantization
// can represent.
func TestSoftmaxAuto(t *testing.T) {
	cases := []struct {
		name string
		out  TensorInfo
		raw  []byte
		want float32 // top-1 score
	}{
		{"float probabilities", TensorInfo{Type: DTypeFloat32, Shape: []int{1, 3}}, f32(0.2, 0.5, 0.3), 0.5},
		{"float logits", TensorInfo{Type: DTypeFloat32, Shape: []int{1, 3}}, f32(1, 2, 3), 0.66524},
		{"float in [0,1] not summing to one", TensorInfo{Type: DTypeFloat32, Shape: []int{1, 2}}, f32(0.9, 0.9), 0.5},
		// Quantized softmax (scale 1/256): every value rounded to zero stays
		// zero, it is not turned into a uniform distribution.
		{"uint8 probabilities, all tiny", TensorInfo{Type: DTypeUint8, Shape: []int{1, 3}, Quant: Quant{Scale: 1.0 / 256}}, []byte{0, 1, 0}, 1.0 / 256},
		{"int8 probabilities", TensorInfo{Type: DTypeInt8, Shape: []int{1, 2}, Quant: Quant{Scale: 1.0 / 256, ZeroPoint: -128}}, []byte{0x80, 0x00}, 0.5},
		// Quantized logits: 0.1*(q-0): 1.0 and 3.0 -> softmax 0.1192, 0.8808.
		{"int8 logits", TensorInfo{Type: DTypeInt8, Shape: []int{1, 2}, Quant: Quant{Scale: 0.1}}, []byte{10, 30}, 0.88080},
		{"uint8 logits", TensorInfo{Type: DTypeUint8, Shape: []int{1, 2}, Quant: Quant{Scale: 0.1, ZeroPoint: 20}}, []byte{30, 50}, 0.88080},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPostprocessor(c.out, PostConfig{TopK: 1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.TopK(c.raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || math.Abs(float64(got[0].Score-c.want)) > 1e-4 {
				t.Errorf("top-1 %+v, want score %v", got, c.want)
			}
		})
	}
}

func TestTopKOrderAndNaN(t *testing.T) {
	out := TensorInfo{Type: DTypeFloat32, Shape: []int{1, 6}}
	p, err := NewPostprocessor(out, PostConfig{TopK: 3, Softmax: "off"})
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	got, _ := p.TopK(f32(0.1, nan, 0.4, 0.3, 0.05, 0.15), make([]result.Label, 0, 3))
	want := []int{2, 3, 5}
	if len(got) != 3 {
		t.Fatalf("got %+v, want indexes %v", got, want)
	}
	for i, w := range want {
		if got[i].Index != w {
			t.Errorf("got %+v, want indexes %v", got, want)
			break
		}
	}
	// Scores are clamped to [0,1] whatever the model outputs, after ranking
	// on the model's own values.
	got, _ = p.TopK(f32(-2, 5, 0, 7, 0, 6), got)
	if len(got) != 3 || got[0].Index != 3 || got[1].Index != 5 || got[2].Index != 1 || got[0].Score != 1 || got[2].Score != 1 {
		t.Errorf("got %+v, want indexes 3, 5, 1 with scores clamped to 1", got)
	}
}

// TestTopKAllocations checks that post-processing allocates nothing per
// frame once the destination slice has room.
func TestTopKAllocations(t *testing.T) {
	for _, typ := range []DType{DTypeFloat32, DTypeUint8, DTypeInt8} {
		out := TensorInfo{Type: typ, Shape: []int{1, 1000}, Quant: Quant{Scale: 0.05}}
		p, err := NewPostprocessor(out, PostConfig{TopK: 5})
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 1000*typ.Size())
		for i := range raw {
			raw[i] = byte(i * 13)
		}
		if typ == DTypeFloat32 {
			raw = f32(make([]float32, 1000)...)
		}
		dst := make([]result.Label, 0, 5)
		if n := testing.AllocsPerRun(100, func() { dst, _ = p.TopK(raw, dst) }); n != 0 {
			t.Errorf("%s: %v allocations per TopK, want 0", typ, n)
		}
	}
}

func BenchmarkTopK(b *testing.B) {
	out := TensorInfo{Type: DTypeUint8, Shape: []int{1, 1000}, Quant: Quant{Scale: 1.0 / 256}}
	p, err := NewPostprocessor(out, PostConfig{TopK: 5})
	if err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 1000)
	for i := range raw {
		raw[i] = byte(i % 7)
	}
	dst := make([]result.Label, 0, 5)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst, _ = p.TopK(raw, dst)
	}
}
