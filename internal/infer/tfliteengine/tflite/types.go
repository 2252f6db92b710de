package tflite

import (
	"errors"
	"unsafe"
)

// ErrClosed is wrapped by errors from models and interpreters used after
// Close.
var ErrClosed = errors.New("tflite: use after close")

// InterpreterOptions configure an interpreter.
type InterpreterOptions struct {
	Threads int  // 0: the runtime's default
	XNNPACK bool // apply the XNNPACK delegate (when the library has it)
}

// Tensor describes one tensor of an interpreter.
type Tensor struct {
	Name      string
	Type      int // the runtime's TfLiteType code
	Shape     []int
	Bytes     int
	Scale     float32
	ZeroPoint int32
	data      unsafe.Pointer // the tensor's memory, owned by the interpreter
}

// Error is a failure reported by the runtime, with its own words.
type Error struct {
	Op      string // what edged asked the runtime to do
	Message string // what the runtime's error reporter said
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "tflite: " + e.Op + " failed"
	}
	return "tflite: " + e.Op + ": " + e.Message
}
