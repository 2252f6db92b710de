// Package litertengine is edged's LiteRT engine: it implements infer.Engine
// over the internal/infer/litertengine/litert binding (the compiled-model API on the CPU
// accelerator), checking every model file with internal/modelfile before
// the runtime sees it.
package litertengine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/litertengine/litert"
	"github.com/edged-io/edged/internal/modelfile"
)

// LibraryName is the file name of the LiteRT C library.
const LibraryName = "libLiteRt.so"

// Engine loads models with one opened LiteRT library.
type Engine struct {
	lib     *litert.Library
	version string
}

// search is where Open looks for the library when no explicit path is
// given (see infer.LibrarySearch.Candidates).
var search = infer.LibrarySearch{Env: "EDGED_LITERT_LIB", Dir: "litert", Name: LibraryName}

// Candidates returns, in order, where Open looks for the library when no
// explicit path is given.
func Candidates() []string { return search.Candidates() }

// Open opens the LiteRT library at path, or searches Candidates when path
// is empty. The error lists every place tried and how to get the library.
func Open(path string) (*Engine, error) {
	lib, p, err := infer.OpenLibrary(search, path, litert.Open, "fetch it with `make litert-lib` in the source tree (it unpacks the pinned ai-edge-litert wheel), or point EDGED_LITERT_LIB at a libLiteRt.so from ai-edge-litert 2.2.0")
	if err != nil {
		return nil, fmt.Errorf("LiteRT runtime library %w", err)
	}
	return &Engine{lib: lib, version: readVersion(p)}, nil
}

// readVersion returns the version recorded beside the library by `make
// litert-lib` (the library itself exports no version function), or
// "unknown".
func readVersion(libPath string) string {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(libPath), "VERSION"))
	if v := strings.TrimSpace(string(b)); err == nil && v != "" {
		return v
	}
	return "unknown"
}

// Name returns "litert" and the runtime's version.
func (e *Engine) Name() string { return "litert " + e.version }

// LibraryPath returns where the runtime was loaded from.
func (e *Engine) LibraryPath() string { return e.lib.Path() }

// Load checks the model file and hands it to the runtime. Accelerate is
// accepted for symmetry with the TFLite engine; LiteRT's CPU accelerator
// always runs XNNPACK, so "off" is refused rather than silently ignored.
func (e *Engine) Load(data []byte, info *modelfile.Info, opts infer.Options) (infer.Model, error) {
	if err := infer.CheckAccelerate(opts.Accelerate); err != nil {
		return nil, err
	}
	if opts.Accelerate == "off" {
		return nil, fmt.Errorf("accelerate %q: the LiteRT engine always uses its CPU accelerator (XNNPACK); use engine tflite to run without it", opts.Accelerate)
	}
	if len(info.CustomOps) > 0 {
		return nil, &infer.UnsupportedOpError{Op: info.CustomOps[0],
			Message: "custom operators are not registered with the LiteRT engine"}
	}
	m, err := e.lib.NewModel(data)
	if err != nil {
		return nil, err
	}
	return &model{m: m, opts: opts}, nil
}

type model struct {
	m    *litert.Model
	opts infer.Options
}

// NewSession compiles the model for the CPU with its buffers allocated.
func (m *model) NewSession() (infer.Session, error) {
	cm, err := m.m.Compile(m.opts.Threads)
	if err != nil {
		if errors.Is(err, litert.ErrClosed) {
			return nil, infer.ErrClosed
		}
		return nil, err
	}
	inputs, outputs := convert(m.m.Inputs()), convert(m.m.Outputs())
	for i, t := range inputs {
		if b := cm.InputData(i); len(b) < t.Bytes {
			cm.Close()
			return nil, fmt.Errorf("input %d (%s): runtime buffer of %d bytes, tensor needs %d", i, t.Name, len(b), t.Bytes)
		}
	}
	for i, t := range outputs {
		if b := cm.OutputData(i); len(b) < t.Bytes {
			cm.Close()
			return nil, fmt.Errorf("output %d (%s): runtime buffer of %d bytes, tensor needs %d", i, t.Name, len(b), t.Bytes)
		}
	}
	return infer.NewSession(runner{cm, inputs, outputs}, inputs, outputs), nil
}

func (m *model) Close() error { return m.m.Close() }

// runner is a compiled model as infer.NewSession drives it, its buffers
// (which the runtime may pad for alignment) cut to the tensors' sizes.
type runner struct {
	cm              *litert.CompiledModel
	inputs, outputs []infer.TensorInfo
}

func (r runner) Invoke() error           { return r.cm.Run() }
func (r runner) Close() error            { return r.cm.Close() }
func (r runner) InputData(i int) []byte  { return trim(r.cm.InputData(i), r.inputs[i].Bytes) }
func (r runner) OutputData(i int) []byte { return trim(r.cm.OutputData(i), r.outputs[i].Bytes) }

// trim cuts a runtime buffer (which may be padded for alignment) to the
// tensor's own size.
func trim(b []byte, n int) []byte {
	if n > 0 && len(b) > n {
		return b[:n:n]
	}
	return b
}

func convert(ts []litert.Tensor) []infer.TensorInfo {
	out := make([]infer.TensorInfo, len(ts))
	for i, t := range ts {
		dtype, name := infer.TFLiteType(t.Type)
		ti := infer.TensorInfo{Name: t.Name, Type: dtype, TypeName: name, Shape: t.Shape,
			Quant: infer.Quant{Scale: t.Scale, ZeroPoint: int32(t.ZeroPoint)}}
		ti.Bytes = ti.Elements() * ti.Type.Size()
		out[i] = ti
	}
	return out
}

var _ infer.Engine = (*Engine)(nil)
