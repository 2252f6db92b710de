package infer

import (
	"errors"
	"fmt"
	"sync"
)

// Runner is an engine's interpreter as a session drives it: the engines
// (tfliteengine, litertengine) give theirs to NewSession, which adds what
// every session shares.
type Runner interface {
	Invoke() error
	InputData(i int) []byte  // input tensor i's memory, exactly its size
	OutputData(i int) []byte // output tensor i's memory, exactly its size
	Close() error
}

// NewSession makes a Session of an engine's interpreter and its tensors: it
// range-checks buffer indexes, fails calls after Close with ErrClosed, and
// holds one lock across Invoke and Close, so an interpreter is never freed
// mid-invoke. Close closes r once.
func NewSession(r Runner, inputs, outputs []TensorInfo) Session {
	return &session{r: r, inputs: inputs, outputs: outputs}
}

// Resize changes a runner's first input to shape and returns the tensors'
// new descriptions.
type Resize func(shape []int) (inputs, outputs []TensorInfo, err error)

// NewBatchSession is NewSession for a runner whose first input can be
// resized: SetBatch works on the session it returns.
func NewBatchSession(r Runner, inputs, outputs []TensorInfo, resize Resize) Session {
	return &session{r: r, inputs: inputs, outputs: outputs, resize: resize}
}

// ErrNoBatch is SetBatch's error for a session whose runtime cannot
// resize its input.
var ErrNoBatch = errors.New("this runtime cannot resize a model's input to a batch")

// Batcher is a Session whose first input can hold several images: its
// first (batch) dimension becomes n and the tensors are reallocated, so
// Inputs, Outputs and the buffers change. The model itself must allow it
// (its operators take a batch): callers check the outputs' shapes.
type Batcher interface {
	SetBatch(n int) error
}

// SetBatch resizes s's batch to n if its runtime can (ErrNoBatch if not).
func SetBatch(s Session, n int) error {
	b, ok := s.(Batcher)
	if !ok {
		return ErrNoBatch
	}
	return b.SetBatch(n)
}

func (s *session) SetBatch(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.resize == nil {
		return ErrNoBatch
	}
	if len(s.inputs) == 0 || len(s.inputs[0].Shape) == 0 || n < 1 {
		return fmt.Errorf("batch %d: the model's first input has no batch dimension", n)
	}
	shape := append([]int{n}, s.inputs[0].Shape[1:]...)
	in, out, err := s.resize(shape)
	if err != nil {
		return fmt.Errorf("batch %d: %w", n, err)
	}
	s.inputs, s.outputs = in, out
	return nil
}

// RunnerOf returns the Runner of a Session made by NewSession, or nil.
func RunnerOf(s Session) Runner {
	if ss, ok := s.(*session); ok {
		return ss.r
	}
	return nil
}

type session struct {
	mu      sync.Mutex
	r       Runner
	inputs  []TensorInfo
	outputs []TensorInfo
	resize  Resize // nil: the runtime cannot resize
	closed  bool
}

func (s *session) Inputs() []TensorInfo  { return s.inputs }
func (s *session) Outputs() []TensorInfo { return s.outputs }

func (s *session) InputBuffer(i int) []byte {
	if i < 0 || i >= len(s.inputs) {
		return nil
	}
	return s.r.InputData(i)
}

func (s *session) OutputBuffer(i int) []byte {
	if i < 0 || i >= len(s.outputs) {
		return nil
	}
	return s.r.OutputData(i)
}

func (s *session) Invoke() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.r.Invoke()
}

func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.r.Close()
}
