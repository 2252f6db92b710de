// Package infer defines the inference engine interface that edged's
// pipeline runs frames through, and the engine-independent post-processing
// (dequantization, softmax, top-k) that turns raw output tensors into labels.
//
// An Engine loads a Model; a Model opens Sessions. A Session owns one
// interpreter and is used by one goroutine at a time: the pipeline gives each
// camera its own Session so cameras never wait on each other's invocations,
// while the model bytes and weights are shared.
package infer

import (
	"errors"
	"fmt"
	"slices"

	"github.com/edged-io/edged/internal/modelfile"
)

// DType is the element type of a tensor.
type DType int

// Tensor element types edged understands. Other types are reported as
// DTypeOther with their runtime name kept in TensorInfo.TypeName.
const (
	DTypeOther DType = iota
	DTypeFloat32
	DTypeUint8
	DTypeInt8
	DTypeInt16
	DTypeInt32
	DTypeInt64
	DTypeFloat16
	DTypeBool
)

// String returns the lower-case type name used in logs and `edged model inspect`.
func (d DType) String() string {
	switch d {
	case DTypeFloat32:
		return "float32"
	case DTypeUint8:
		return "uint8"
	case DTypeInt8:
		return "int8"
	case DTypeInt16:
		return "int16"
	case DTypeInt32:
		return "int32"
	case DTypeInt64:
		return "int64"
	case DTypeFloat16:
		return "float16"
	case DTypeBool:
		return "bool"
	default:
		return "other"
	}
}

// ParseDType returns the type whose String is name (as modelfile names a
// tensor's type), or DTypeOther.
func ParseDType(name string) DType {
	for d := DTypeFloat32; d <= DTypeBool; d++ {
		if d.String() == name {
			return d
		}
	}
	return DTypeOther
}

// tfliteTypes are TFLite's TfLiteType codes (c_api_types.h), which LiteRT's
// LiteRtElementType shares: the type each code maps to, and its name.
var tfliteTypes = [...]struct {
	dtype DType
	name  string
}{
	{DTypeOther, "notype"}, {DTypeFloat32, "float32"}, {DTypeInt32, "int32"}, {DTypeUint8, "uint8"},
	{DTypeInt64, "int64"}, {DTypeOther, "string"}, {DTypeBool, "bool"}, {DTypeInt16, "int16"},
	{DTypeOther, "complex64"}, {DTypeInt8, "int8"}, {DTypeFloat16, "float16"}, {DTypeOther, "float64"},
	{DTypeOther, "complex128"}, {DTypeOther, "uint64"}, {DTypeOther, "resource"}, {DTypeOther, "variant"},
	{DTypeOther, "uint32"}, {DTypeOther, "uint16"}, {DTypeOther, "int4"}, {DTypeOther, "bfloat16"},
}

// TFLiteType returns the type and name of a TfLiteType (or
// LiteRtElementType) code; an unknown code is DTypeOther named type_<code>.
func TFLiteType(code int) (DType, string) {
	if code >= 0 && code < len(tfliteTypes) {
		return tfliteTypes[code].dtype, tfliteTypes[code].name
	}
	return DTypeOther, fmt.Sprintf("type_%d", code)
}

// Size returns the size in bytes of one element, or 0 when unknown.
func (d DType) Size() int {
	switch d {
	case DTypeFloat32, DTypeInt32:
		return 4
	case DTypeUint8, DTypeInt8, DTypeBool:
		return 1
	case DTypeInt16, DTypeFloat16:
		return 2
	case DTypeInt64:
		return 8
	default:
		return 0
	}
}

// Quant is a tensor's per-tensor affine quantization: real = Scale*(q-ZeroPoint).
// Scale is 0 when the tensor is not quantized.
type Quant struct {
	Scale     float32
	ZeroPoint int32
}

// TensorInfo describes one input or output tensor of a session.
type TensorInfo struct {
	Name     string
	Type     DType
	TypeName string // the runtime's own name for the type
	Shape    []int
	Quant    Quant
	Bytes    int // size of the tensor's buffer in bytes
}

// Elements returns the number of elements the shape holds.
func (t TensorInfo) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Options configure how an engine loads and runs a model.
type Options struct {
	// Threads is the number of CPU threads an interpreter may use; 0 lets the
	// engine choose.
	Threads int
	// Accelerate selects the engine's CPU acceleration (XNNPACK for TFLite):
	// "auto" (the engine decides by model type), "on" or "off".
	Accelerate string
}

// AccelerateModes are the values of Options.Accelerate (a model's
// accelerate in the configuration); "" means "auto".
var AccelerateModes = []string{"auto", "on", "off"}

// SoftmaxModes are the values of PostConfig.Softmax (a model's softmax in
// the configuration); "" means "auto".
var SoftmaxModes = []string{"auto", "on", "off"}

// CheckAccelerate returns an error for an Accelerate value engines do not
// know.
func CheckAccelerate(mode string) error {
	if mode != "" && !slices.Contains(AccelerateModes, mode) {
		return fmt.Errorf("accelerate %q: want auto, on or off", mode)
	}
	return nil
}

// Engine loads models. Implementations live in their own packages (the
// TFLite one in internal/infer/tfliteengine) so that this package stays
// free of cgo.
type Engine interface {
	// Name identifies the engine and its runtime version, e.g. "tflite 2.9.0".
	Name() string
	// Load prepares a model for sessions from its file's bytes, already
	// read and checked by modelfile.Parse (info). The model may keep data
	// until Close; the caller does not change it. Errors do not name the
	// file: the caller does (Registry, LoadFile).
	Load(data []byte, info *modelfile.Info, opts Options) (Model, error)
}

// Model is a loaded model shared by every session opened on it.
type Model interface {
	// NewSession opens an interpreter on the model with its tensors allocated.
	NewSession() (Session, error)
	// Close releases the model once every session on it is closed.
	Close() error
}

// Session runs one interpreter. It is not safe for concurrent use.
type Session interface {
	// Inputs and Outputs describe the interpreter's tensors in order.
	Inputs() []TensorInfo
	Outputs() []TensorInfo
	// InputBuffer returns the memory of input tensor i, valid until Close,
	// so that preprocessing can write straight into it.
	InputBuffer(i int) []byte
	// Invoke runs the model on the current input buffers.
	Invoke() error
	// OutputBuffer returns the memory of output tensor i, valid until the
	// next Invoke or Close. Callers copy what they keep.
	OutputBuffer(i int) []byte
	// Close releases the interpreter; it is safe to call twice.
	Close() error
}

// ErrClosed is returned by sessions and models used after Close.
var ErrClosed = errors.New("infer: use after close")

// UnsupportedOpError reports a model operator the runtime cannot execute.
type UnsupportedOpError struct {
	Op      string // the operator or custom op name
	Message string // what the runtime said
}

func (e *UnsupportedOpError) Error() string {
	return fmt.Sprintf("model needs operator %q, which this runtime lacks: %s", e.Op, e.Message)
}
