package litert

import (
	"errors"
	"fmt"
)

// ErrClosed is wrapped by errors from models and compiled models used
// after Close.
var ErrClosed = errors.New("litert: use after close")

// Tensor describes one input or output tensor of a model's signature.
type Tensor struct {
	Name      string
	Ranked    bool // false for a tensor of unknown rank (Shape is then nil)
	Type      int  // the runtime's LiteRtElementType code (TfLiteType values)
	Shape     []int
	Scale     float32 // per-tensor quantization; 0 when not quantized
	ZeroPoint int64
}

// Error is a failure status returned by the runtime.
type Error struct {
	Op     string // what edged asked the runtime to do
	Status int    // the LiteRtStatus code
}

func (e *Error) Error() string {
	name, ok := statusNames[e.Status]
	if !ok {
		name = fmt.Sprintf("status %d", e.Status)
	}
	return "litert: " + e.Op + ": " + name
}

// statusNames are the LiteRtStatus codes of litert_common.h (v2.2.0); the
// library exports no function that names them.
var statusNames = map[int]string{
	1: "invalid argument", 2: "memory allocation failure", 3: "runtime failure", 4: "missing input tensor",
	5: "unsupported", 6: "not found", 7: "timeout expired", 8: "wrong version", 9: "unknown error",
	10: "already exists", 100: "cancelled", 500: "file I/O error", 501: "invalid flatbuffer",
	502: "dynamic loading error", 503: "serialization error", 504: "compilation error",
	1000: "index out of bounds", 1001: "invalid IR type", 1002: "invalid graph invariant",
	1003: "graph modification error", 1500: "invalid tool config", 4000: "unsupported runtime version",
	4001: "unsupported compiler version", 4002: "incompatible byte code version",
	5000: "unsupported op shape inferer", 5001: "shape inference failed",
}
