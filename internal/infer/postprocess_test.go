package infer

import (
	"encoding/binary"
	"math"
	"testing"
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
	// real = 0.5*(q+128): 0, 0.5, 1.0
	if got[0].Index != 2 || got[0].Score != 1 || got[1].Score != 0.5 || got[2].Score != 0 || got[0].Label != "2" {
		t.Errorf("got %+v", got)
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
