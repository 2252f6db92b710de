//go:build !cgo

package litert

import "errors"

// ErrNoCgo is returned by Open in binaries built without cgo: the runtime
// is a C library, reached only through cgo.
var ErrNoCgo = errors.New("litert: this edged was built without cgo (CGO_ENABLED=0), so it cannot load the LiteRT C library; rebuild with CGO_ENABLED=1")

// Library is an opened LiteRT C library; without cgo none can be opened.
type Library struct{}

// Open always fails without cgo.
func Open(path string) (*Library, error) { return nil, ErrNoCgo }

// Path returns where the library was loaded from.
func (l *Library) Path() string { return "" }

// NewModel always fails without cgo.
func (l *Library) NewModel(data []byte) (*Model, error) { return nil, ErrNoCgo }

// Model is a model held by the runtime.
type Model struct{}

// Inputs describes the model's input tensors.
func (m *Model) Inputs() []Tensor { return nil }

// Outputs describes the model's output tensors.
func (m *Model) Outputs() []Tensor { return nil }

// Compile always fails without cgo.
func (m *Model) Compile(threads int) (*CompiledModel, error) { return nil, ErrNoCgo }

// Close does nothing.
func (m *Model) Close() error { return nil }

// CompiledModel runs a model.
type CompiledModel struct{}

// Threads returns 0.
func (cm *CompiledModel) Threads() int { return 0 }

// InputData returns nil.
func (cm *CompiledModel) InputData(i int) []byte { return nil }

// OutputData returns nil.
func (cm *CompiledModel) OutputData(i int) []byte { return nil }

// Run always fails without cgo.
func (cm *CompiledModel) Run() error { return ErrNoCgo }

// Close does nothing.
func (cm *CompiledModel) Close() error { return nil }
