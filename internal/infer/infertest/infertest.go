// Package infertest is a fake inference engine for tests of the code
// around inference (pipeline, daemon), so that they run without a native
// runtime: models are real model files, checked as the real engines check
// them, whose tensors the fake reports; sessions answer each Invoke with
// scores and a latency a test scripts. The real runtimes keep their
// conformance and integration tests in their own packages.
package infertest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
)

// Invocation is what a script sees of one Invoke.
type Invocation struct {
	Session int    // which session, from 0 in the order they were opened
	N       int    // the session's invocation count, from 0
	Input   []byte // the first input tensor's bytes as the caller wrote them (one image's, in a batch)
	Image   int    // the image's place in a batch, from 0 (0 without one)
}

// Script answers one Invoke: the first output's scores (one per class;
// missing ones read 0) and how long the invoke takes. A non-nil error
// fails the invoke.
type Script func(Invocation) (scores []float32, latency time.Duration, err error)

// Engine is a fake infer.Engine. The zero value answers every invoke with
// zero scores at once.
type Engine struct {
	Script Script
	// Batch lets sessions resize their batch (infer.SetBatch), as a
	// runtime that can resize inputs does; the script is then asked once
	// per image, and the invoke's latency is the longest image's.
	Batch bool

	mu       sync.Mutex
	loads    int
	sessions int
	open     int // models loaded and not closed
	invokes  int
	images   int
}

// Fixed returns a script giving scores after latency on every invoke.
func Fixed(scores []float32, latency time.Duration) Script {
	return func(Invocation) ([]float32, time.Duration, error) { return scores, latency, nil }
}

// Name identifies the fake.
func (e *Engine) Name() string { return "infertest" }

// LibraryPath is empty: the fake loads no library.
func (e *Engine) LibraryPath() string { return "" }

// Load accepts a checked model file and reports its tensors.
func (e *Engine) Load(_ []byte, info *modelfile.Info, opts infer.Options) (infer.Model, error) {
	if err := infer.CheckAccelerate(opts.Accelerate); err != nil {
		return nil, err
	}
	if info == nil || len(info.Inputs) == 0 || len(info.Outputs) == 0 {
		return nil, errors.New("infertest: the model has no inputs or outputs")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.loads++
	e.open++
	return &model{e: e, in: tensors(info.Inputs), out: tensors(info.Outputs)}, nil
}

// Stats are the fake's counters.
type Stats struct {
	Loads    int // models loaded
	Open     int // models loaded and not closed yet
	Sessions int // sessions opened
	Invokes  int // calls of Invoke (a batch counts once)
	Images   int // images scored: one per invoke, or a batch's size
}

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{Loads: e.loads, Open: e.open, Sessions: e.sessions, Invokes: e.invokes, Images: e.images}
}

func tensors(ts []modelfile.Tensor) []infer.TensorInfo {
	out := make([]infer.TensorInfo, len(ts))
	for i, t := range ts {
		ti := infer.TensorInfo{Name: t.Name, Type: infer.ParseDType(t.Type), TypeName: t.Type, Shape: t.Shape}
		if len(t.Scale) > 0 {
			ti.Quant.Scale = t.Scale[0]
		}
		if len(t.ZeroPoint) > 0 {
			ti.Quant.ZeroPoint = int32(t.ZeroPoint[0])
		}
		ti.Bytes = ti.Elements() * ti.Type.Size()
		out[i] = ti
	}
	return out
}

type model struct {
	e       *Engine
	in, out []infer.TensorInfo
	mu      sync.Mutex
	closed  bool
}

func (m *model) NewSession() (infer.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, infer.ErrClosed
	}
	m.e.mu.Lock()
	id := m.e.sessions
	m.e.sessions++
	m.e.mu.Unlock()
	s := &session{m: m, id: id, in: m.in, out: m.out, batch: 1}
	s.alloc()
	return s, nil
}

func (s *session) alloc() {
	s.inBufs, s.outBufs = nil, nil
	for _, t := range s.in {
		s.inBufs = append(s.inBufs, make([]byte, t.Bytes))
	}
	for _, t := range s.out {
		s.outBufs = append(s.outBufs, make([]byte, t.Bytes))
	}
}

// SetBatch resizes the first input's and output's batch dimension, when
// the engine allows batches.
func (s *session) SetBatch(n int) error {
	if !s.m.e.Batch {
		return infer.ErrNoBatch
	}
	if n < 1 {
		return fmt.Errorf("infertest: batch %d", n)
	}
	resized := func(ts []infer.TensorInfo) []infer.TensorInfo {
		out := append([]infer.TensorInfo(nil), ts...)
		t := out[0]
		t.Shape = append([]int{n}, t.Shape[1:]...)
		t.Bytes = t.Elements() * t.Type.Size()
		out[0] = t
		return out
	}
	s.in, s.out, s.batch = resized(s.m.in), resized(s.m.out), n
	s.alloc()
	return nil
}

func (m *model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.e.mu.Lock()
		m.e.open--
		m.e.mu.Unlock()
	}
	return nil
}

type session struct {
	m       *model
	id, n   int
	in, out []infer.TensorInfo
	batch   int
	inBufs  [][]byte
	outBufs [][]byte
	mu      sync.Mutex
	closed  bool
}

func (s *session) Inputs() []infer.TensorInfo  { return s.in }
func (s *session) Outputs() []infer.TensorInfo { return s.out }
func (s *session) InputBuffer(i int) []byte    { return s.inBufs[i] }
func (s *session) OutputBuffer(i int) []byte   { return s.outBufs[i] }

func (s *session) Invoke() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return infer.ErrClosed
	}
	s.m.e.mu.Lock()
	s.m.e.invokes++
	s.m.e.images += s.batch
	script := s.m.e.Script
	s.m.e.mu.Unlock()
	inSize, outSize := len(s.inBufs[0])/s.batch, len(s.outBufs[0])/s.batch
	row := s.m.out[0] // one image's output
	var wait time.Duration
	for b := range s.batch {
		var scores []float32
		if script != nil {
			var latency time.Duration
			var err error
			scores, latency, err = script(Invocation{Session: s.id, N: s.n, Input: s.inBufs[0][b*inSize : (b+1)*inSize], Image: b})
			wait = max(wait, latency)
			if err != nil {
				s.n++
				return err
			}
		}
		if err := encode(s.outBufs[0][b*outSize:(b+1)*outSize], row, scores); err != nil {
			return err
		}
	}
	s.n++
	if wait > 0 {
		time.Sleep(wait)
	}
	return nil
}

// encode writes scores into an output tensor of t's type, quantized with
// its parameters.
func encode(dst []byte, t infer.TensorInfo, scores []float32) error {
	n := t.Elements()
	for i := 0; i < n; i++ {
		var v float32
		if i < len(scores) {
			v = scores[i]
		}
		q := func() float64 {
			if t.Quant.Scale == 0 {
				return float64(v)
			}
			return math.Round(float64(v)/float64(t.Quant.Scale)) + float64(t.Quant.ZeroPoint)
		}
		switch t.Type {
		case infer.DTypeFloat32:
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		case infer.DTypeUint8:
			dst[i] = byte(min(max(q(), 0), 255))
		case infer.DTypeInt8:
			dst[i] = byte(int8(min(max(q(), -128), 127)))
		default:
			return fmt.Errorf("infertest: output %q of type %s is not supported", t.Name, t.Type)
		}
	}
	return nil
}

func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
