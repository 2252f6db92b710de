//go:build !cgo

package tflite

import "errors"

// ErrNoCgo is returned by Open in binaries built without cgo: the runtime
// is a C library, reached only through cgo.
var ErrNoCgo = errors.New("tflite: this edged was built without cgo (CGO_ENABLED=0), so it cannot load the TFLite C library; rebuild with CGO_ENABLED=1")

// Library is an opened TFLite C library; without cgo none can be opened.
type Library struct{}

// Open always fails without cgo.
func Open(path string) (*Library, error) { return nil, ErrNoCgo }

// Path returns where the library was loaded from.
func (l *Library) Path() string { return "" }

// Version returns the runtime's version string.
func (l *Library) Version() string { return "" }

// HasXNNPACK reports whether the library exports the XNNPACK delegate.
func (l *Library) HasXNNPACK() bool { return false }

// NewModel always fails without cgo.
func (l *Library) NewModel(data []byte) (*Model, error) { return nil, ErrNoCgo }

// Model is a model held by the runtime.
type Model struct{}

// Close releases the model.
func (m *Model) Close() error { return nil }

// NewInterpreter always fails without cgo.
func (m *Model) NewInterpreter(opts InterpreterOptions) (*Interpreter, error) {
	return nil, ErrNoCgo
}

// Interpreter runs a model.
type Interpreter struct{}

// XNNPACK reports whether the XNNPACK delegate is applied.
func (it *Interpreter) XNNPACK() bool { return false }

// Inputs describes the interpreter's input tensors.
func (it *Interpreter) Inputs() []Tensor { return nil }

// Outputs describes the interpreter's output tensors.
func (it *Interpreter) Outputs() []Tensor { return nil }

// InputData returns the memory of input tensor i.
func (it *Interpreter) InputData(i int) []byte { return nil }

// OutputData returns the memory of output tensor i.
func (it *Interpreter) OutputData(i int) []byte { return nil }

// Invoke always fails without cgo.
func (it *Interpreter) Invoke() error { return ErrNoCgo }

// Close releases the interpreter.
func (it *Interpreter) Close() error { return nil }
