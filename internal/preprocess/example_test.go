package preprocess_test

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/preprocess"
)

// A 640×480 frame letterboxed into a 224×224 input: the whole frame is
// read, scaled by 0.35 to 224×168, and centred with 28 padded rows above
// and below.
func ExampleSpec_Plan_letterbox() {
	s := preprocess.Spec{Mode: preprocess.Letterbox, Width: 224, Height: 224}
	crop, dst, err := s.Plan(640, 480)
	fmt.Println(crop, dst, err)
	// Output: {0 0 640 480} {0 28 224 168} <nil>
}

// A region of interest reaching past the frame's right edge is clipped to
// the frame, then centre-cropped to the output's square aspect.
func ExampleSpec_Plan_roi() {
	s := preprocess.Spec{ROI: preprocess.Rect{X: 500, Y: 100, W: 300, H: 200}, Mode: preprocess.CenterCrop, Width: 96, Height: 96}
	// The ROI is clipped to x 500..639 (140 wide), then its centred
	// 140×140 square is read: y 130..269.
	crop, dst, err := s.Plan(640, 480)
	fmt.Println(crop, dst, err)
	// Output: {500 130 140 140} {0 0 96 96} <nil>
}

// An ROI that starts outside the frame is rejected with the sizes involved.
func ExampleSpec_Plan_outside() {
	s := preprocess.Spec{ROI: preprocess.Rect{X: 700, Y: 0, W: 10, H: 10}, Width: 96, Height: 96}
	_, _, err := s.Plan(640, 480)
	fmt.Println(err)
	// Output: roi {X:700 Y:0 W:10 H:10} starts outside the 640x480 frame
}

// An int8 model quantized with scale 1/255 and zero point -128 (the usual
// full-integer export) without a configured mean/std gets q = pixel-128, in
// RGB order.
func ExampleConverter_int8() {
	in := infer.TensorInfo{Name: "input", Type: infer.DTypeInt8, Shape: []int{1, 1, 1, 3},
		Quant: infer.Quant{Scale: 1.0 / 255, ZeroPoint: -128}}
	c, err := preprocess.NewConverter(in, preprocess.Norm{}, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	bgr := []byte{0, 128, 255} // one pixel: blue 0, green 128, red 255
	dst := make([]byte, 3)
	if err := c.Convert(dst, bgr); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(int8(dst[0]), int8(dst[1]), int8(dst[2]))
	// Output: 127 0 -128
}

// A float32 model with ImageNet mean/std (in RGB order, in pixel units).
func ExampleConverter_float32() {
	in := infer.TensorInfo{Name: "input", Type: infer.DTypeFloat32, Shape: []int{1, 1, 1, 3}}
	norm := preprocess.Norm{
		Mean: [3]float32{123.675, 116.28, 103.53},
		Std:  [3]float32{58.395, 57.12, 57.375},
	}
	c, err := preprocess.NewConverter(in, norm, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	dst := make([]byte, 3*4)
	if err := c.Convert(dst, []byte{103, 116, 124}); err != nil { // B, G, R
		fmt.Println(err)
		return
	}
	for i := 0; i < 3; i++ {
		fmt.Printf("%.3f ", math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:])))
	}
	fmt.Println()
	// Output: 0.006 -0.005 -0.009
}

// Sizes that do not match the tensor are refused, naming both sizes.
func ExampleConverter_Convert_sizes() {
	in := infer.TensorInfo{Name: "input", Type: infer.DTypeUint8, Shape: []int{1, 2, 2, 3}, Quant: infer.Quant{Scale: 1}}
	c, _ := preprocess.NewConverter(in, preprocess.Norm{}, false)
	fmt.Println(c.Convert(make([]byte, 12), make([]byte, 9)))
	fmt.Println(c.Convert(make([]byte, 10), make([]byte, 12)))
	// Output:
	// image has 9 bytes, want 12 (2x2x3)
	// input buffer has 10 bytes, want 12
}
