// Package tfliteengine is edged's TensorFlow Lite engine: it implements
// infer.Engine over the internal/infer/tfliteengine/tflite binding, checking every model file
// with internal/modelfile before the runtime sees it.
package tfliteengine

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/tfliteengine/tflite"
	"github.com/edged-io/edged/internal/modelfile"
)

// LibraryName is the file name of the TFLite C library.
const LibraryName = "libtensorflowlite_c.so"

// Engine loads models with one opened TFLite library.
type Engine struct {
	lib *tflite.Library
}

// search is where Open looks for the library when no explicit path is
// given (see infer.LibrarySearch.Candidates).
var search = infer.LibrarySearch{Env: "EDGED_TFLITE_LIB", Dir: "tflite", Name: LibraryName}

// Candidates returns, in order, where Open looks for the library when no
// explicit path is given.
func Candidates() []string { return search.Candidates() }

// Open opens the TFLite library at path, or searches Candidates when path
// is empty. The error lists every place tried and how to get the library.
func Open(path string) (*Engine, error) {
	lib, _, err := infer.OpenLibrary(search, path, tflite.Open, "install it with `make tflite-lib` in the source tree, install the edged package (it ships the library in /usr/lib/edged), or point EDGED_TFLITE_LIB at a libtensorflowlite_c.so")
	if err != nil {
		return nil, fmt.Errorf("TFLite runtime library %w", err)
	}
	return &Engine{lib: lib}, nil
}

// Name returns "tflite" and the runtime's version.
func (e *Engine) Name() string { return "tflite " + e.lib.Version() }

// LibraryPath returns where the runtime was loaded from.
func (e *Engine) LibraryPath() string { return e.lib.Path() }

// Load checks the model file and hands it to the runtime.
func (e *Engine) Load(data []byte, info *modelfile.Info, opts infer.Options) (infer.Model, error) {
	if err := infer.CheckAccelerate(opts.Accelerate); err != nil {
		return nil, err
	}
	m, err := e.lib.NewModel(data)
	if err != nil {
		return nil, err
	}
	return &model{m: m, info: info, opts: opts}, nil
}

type model struct {
	m    *tflite.Model
	info *modelfile.Info
	opts infer.Options
}

// useXNNPACK decides whether to apply XNNPACK. "auto" applies it to every
// model: with the bundled 2.9 runtime BenchmarkInvoke measured it 3-7x
// faster for the int8 default model and 6-12x for a float model (figures
// in this package's README.md).
func (m *model) useXNNPACK() bool { return m.opts.Accelerate != "off" }

// NewSession opens an interpreter on the model with its tensors allocated.
// A model needing an operator the runtime lacks gives an
// *infer.UnsupportedOpError naming it.
func (m *model) NewSession() (infer.Session, error) {
	it, err := m.m.NewInterpreter(tflite.InterpreterOptions{Threads: m.opts.Threads, XNNPACK: m.useXNNPACK()})
	if err != nil {
		if errors.Is(err, tflite.ErrClosed) {
			return nil, infer.ErrClosed
		}
		var te *tflite.Error
		if errors.As(err, &te) {
			if op := unsupportedOp(te.Message, m.info.CustomOps); op != "" {
				return nil, &infer.UnsupportedOpError{Op: op, Message: te.Message}
			}
		}
		return nil, err
	}
	resize := func(shape []int) ([]infer.TensorInfo, []infer.TensorInfo, error) {
		if err := it.ResizeInput(0, shape); err != nil {
			if errors.Is(err, tflite.ErrNoResize) {
				return nil, nil, infer.ErrNoBatch
			}
			return nil, nil, err
		}
		return convert(it.Inputs()), convert(it.Outputs()), nil
	}
	return infer.NewBatchSession(it, convert(it.Inputs()), convert(it.Outputs()), resize), nil
}

// builtinMissing matches the runtime's words for a builtin operator it
// lacks (a model made for a newer TFLite than the one loaded), e.g.
// "Didn't find op for builtin opcode 'GELU' version '1'".
var builtinMissing = regexp.MustCompile(`builtin opcode '([^']+)'`)

// unsupportedOp names the operator that the runtime's error message says
// it cannot resolve, or returns "" when the message is about something
// else. Custom op names come from the model checker, so that the name is
// exact even when the runtime's message wraps it in other text.
func unsupportedOp(msg string, customOps []string) string {
	if strings.Contains(msg, "custom op") {
		for _, op := range customOps {
			if strings.Contains(msg, op) {
				return op
			}
		}
	}
	if sub := builtinMissing.FindStringSubmatch(msg); sub != nil {
		return sub[1]
	}
	return ""
}

func (m *model) Close() error { return m.m.Close() }

// XNNPACK reports whether a session's interpreter runs with XNNPACK.
func XNNPACK(s infer.Session) bool {
	it, ok := infer.RunnerOf(s).(*tflite.Interpreter)
	return ok && it.XNNPACK()
}

func convert(ts []tflite.Tensor) []infer.TensorInfo {
	out := make([]infer.TensorInfo, len(ts))
	for i, t := range ts {
		dtype, name := infer.TFLiteType(t.Type)
		out[i] = infer.TensorInfo{Name: t.Name, Type: dtype, TypeName: name, Shape: t.Shape,
			Quant: infer.Quant{Scale: t.Scale, ZeroPoint: t.ZeroPoint}, Bytes: t.Bytes}
	}
	return out
}

var _ infer.Engine = (*Engine)(nil)
