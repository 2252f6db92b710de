package infer

import "sync"

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
