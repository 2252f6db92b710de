//go:build cgo

// Package tflite is edged's binding to the TensorFlow Lite C library. The
// library is opened at run time (dlopen), so edged builds without it and
// works with any libtensorflowlite_c.so that keeps the stable C API. Only
// the functions below are declared; their signatures were checked against
// the TFLite 2.9.0 headers (tensorflow/lite/c/c_api.h, c_api_types.h).
//
// This is the only package that touches TFLite's C memory: Go values own
// their C pointers and free them in Close, which is safe to call twice.
package tflite

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TfLiteModel TfLiteModel;
typedef struct TfLiteInterpreterOptions TfLiteInterpreterOptions;
typedef struct TfLiteInterpreter TfLiteInterpreter;
typedef struct TfLiteTensor TfLiteTensor;
typedef struct TfLiteDelegate TfLiteDelegate;
typedef struct { float scale; int32_t zero_point; } edged_quant;
typedef void (*edged_reporter)(void*, const char*, va_list);

// The functions edged calls, resolved with dlsym.
typedef struct {
	void* handle;
	const char* (*Version)(void);
	TfLiteModel* (*ModelCreate)(const void*, size_t);
	void (*ModelDelete)(TfLiteModel*);
	TfLiteInterpreterOptions* (*OptionsCreate)(void);
	void (*OptionsDelete)(TfLiteInterpreterOptions*);
	void (*OptionsSetNumThreads)(TfLiteInterpreterOptions*, int32_t);
	void (*OptionsAddDelegate)(TfLiteInterpreterOptions*, TfLiteDelegate*);
	void (*OptionsSetErrorReporter)(TfLiteInterpreterOptions*, edged_reporter, void*);
	TfLiteInterpreter* (*InterpreterCreate)(const TfLiteModel*, const TfLiteInterpreterOptions*);
	void (*InterpreterDelete)(TfLiteInterpreter*);
	int32_t (*InputCount)(const TfLiteInterpreter*);
	TfLiteTensor* (*Input)(const TfLiteInterpreter*, int32_t);
	int32_t (*OutputCount)(const TfLiteInterpreter*);
	const TfLiteTensor* (*Output)(const TfLiteInterpreter*, int32_t);
	int (*AllocateTensors)(TfLiteInterpreter*);
	int (*Invoke)(TfLiteInterpreter*);
	int (*TensorType)(const TfLiteTensor*);
	int32_t (*TensorNumDims)(const TfLiteTensor*);
	int32_t (*TensorDim)(const TfLiteTensor*, int32_t);
	size_t (*TensorByteSize)(const TfLiteTensor*);
	void* (*TensorData)(const TfLiteTensor*);
	const char* (*TensorName)(const TfLiteTensor*);
	edged_quant (*TensorQuant)(const TfLiteTensor*);
	// The XNNPACK delegate is optional: older or slimmer builds lack it.
	TfLiteDelegate* (*XNNPackCreate)(const void*);
	void (*XNNPackDelete)(TfLiteDelegate*);
	// Newer libraries only: reports the flags a delegate was created with.
	uint32_t (*XNNPackGetFlags)(TfLiteDelegate*);
	// Optional: changes an input's shape (batching several images).
	int (*ResizeInput)(TfLiteInterpreter*, int32_t, const int*, int32_t);
} edged_api;

static void* edged_sym(void* h, const char* name, char* missing, size_t n) {
	void* p = dlsym(h, name);
	if (p == NULL && missing[0] == 0) snprintf(missing, n, "%s", name);
	return p;
}

// edged_open loads the library at path and resolves every symbol. On
// failure it returns NULL and writes the reason into err.
static edged_api* edged_open(const char* path, char* err, size_t n) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, n, "%s", dlerror());
		return NULL;
	}
	edged_api* a = calloc(1, sizeof(edged_api));
	char missing[128] = {0};
	a->handle = h;
	a->Version = edged_sym(h, "TfLiteVersion", missing, sizeof missing);
	a->ModelCreate = edged_sym(h, "TfLiteModelCreate", missing, sizeof missing);
	a->ModelDelete = edged_sym(h, "TfLiteModelDelete", missing, sizeof missing);
	a->OptionsCreate = edged_sym(h, "TfLiteInterpreterOptionsCreate", missing, sizeof missing);
	a->OptionsDelete = edged_sym(h, "TfLiteInterpreterOptionsDelete", missing, sizeof missing);
	a->OptionsSetNumThreads = edged_sym(h, "TfLiteInterpreterOptionsSetNumThreads", missing, sizeof missing);
	a->OptionsAddDelegate = edged_sym(h, "TfLiteInterpreterOptionsAddDelegate", missing, sizeof missing);
	a->OptionsSetErrorReporter = edged_sym(h, "TfLiteInterpreterOptionsSetErrorReporter", missing, sizeof missing);
	a->InterpreterCreate = edged_sym(h, "TfLiteInterpreterCreate", missing, sizeof missing);
	a->InterpreterDelete = edged_sym(h, "TfLiteInterpreterDelete", missing, sizeof missing);
	a->InputCount = edged_sym(h, "TfLiteInterpreterGetInputTensorCount", missing, sizeof missing);
	a->Input = edged_sym(h, "TfLiteInterpreterGetInputTensor", missing, sizeof missing);
	a->OutputCount = edged_sym(h, "TfLiteInterpreterGetOutputTensorCount", missing, sizeof missing);
	a->Output = edged_sym(h, "TfLiteInterpreterGetOutputTensor", missing, sizeof missing);
	a->AllocateTensors = edged_sym(h, "TfLiteInterpreterAllocateTensors", missing, sizeof missing);
	a->Invoke = edged_sym(h, "TfLiteInterpreterInvoke", missing, sizeof missing);
	a->TensorType = edged_sym(h, "TfLiteTensorType", missing, sizeof missing);
	a->TensorNumDims = edged_sym(h, "TfLiteTensorNumDims", missing, sizeof missing);
	a->TensorDim = edged_sym(h, "TfLiteTensorDim", missing, sizeof missing);
	a->TensorByteSize = edged_sym(h, "TfLiteTensorByteSize", missing, sizeof missing);
	a->TensorData = edged_sym(h, "TfLiteTensorData", missing, sizeof missing);
	a->TensorName = edged_sym(h, "TfLiteTensorName", missing, sizeof missing);
	a->TensorQuant = edged_sym(h, "TfLiteTensorQuantizationParams", missing, sizeof missing);
	if (missing[0] != 0) {
		snprintf(err, n, "symbol %s not found", missing);
		dlclose(h);
		free(a);
		return NULL;
	}
	a->XNNPackCreate = dlsym(h, "TfLiteXNNPackDelegateCreate");
	a->XNNPackDelete = dlsym(h, "TfLiteXNNPackDelegateDelete");
	a->XNNPackGetFlags = dlsym(h, "TfLiteXNNPackDelegateGetFlags");
	a->ResizeInput = dlsym(h, "TfLiteInterpreterResizeInputTensor");
	return a;
}

// A per-interpreter buffer for the runtime's error messages.
typedef struct { char msg[2048]; size_t len; } edged_errbuf;

static void edged_report(void* user, const char* format, va_list args) {
	edged_errbuf* b = user;
	if (b->len >= sizeof(b->msg) - 2) return;
	if (b->len > 0) b->msg[b->len++] = '\n';
	int n = vsnprintf(b->msg + b->len, sizeof(b->msg) - b->len, format, args);
	if (n > 0) b->len += (size_t)n;
	if (b->len >= sizeof(b->msg)) b->len = sizeof(b->msg) - 1;
	b->msg[b->len] = 0;
}

static const char* api_version(edged_api* a) { return a->Version(); }
static TfLiteModel* api_model_create(edged_api* a, const void* d, size_t n) { return a->ModelCreate(d, n); }
static void api_model_delete(edged_api* a, TfLiteModel* m) { a->ModelDelete(m); }

// api_interpreter_create builds options (threads, error reporter, optional
// XNNPACK delegate) and the interpreter. The options block handed to
// XNNPACK is zeroed and larger than any version's struct: every version
// starts with int32 num_threads; up to about 2.15 uint32 flags follows, and
// newer versions put a runtime_flags word there and move flags to offset 8.
// Libraries that can report a delegate's flags (GetFlags) are asked, and
// the delegate is rebuilt with the newer layout when the flags did not land.
static TfLiteInterpreter* api_interpreter_create(edged_api* a, TfLiteModel* m, int threads,
		int xnnpack, uint32_t xnn_flags, edged_errbuf* eb, TfLiteDelegate** delegate) {
	TfLiteInterpreterOptions* o = a->OptionsCreate();
	if (o == NULL) return NULL;
	if (threads > 0) a->OptionsSetNumThreads(o, threads);
	a->OptionsSetErrorReporter(o, edged_report, eb);
	*delegate = NULL;
	if (xnnpack && a->XNNPackCreate != NULL) {
		unsigned char opts[512];
		memset(opts, 0, sizeof opts);
		int32_t nt = threads > 0 ? threads : 1;
		memcpy(opts, &nt, 4);
		memcpy(opts + 4, &xnn_flags, 4);
		*delegate = a->XNNPackCreate(opts);
		if (*delegate != NULL && a->XNNPackGetFlags != NULL &&
				(a->XNNPackGetFlags(*delegate) & xnn_flags) != xnn_flags) {
			a->XNNPackDelete(*delegate);
			memset(opts + 4, 0, 4);
			memcpy(opts + 8, &xnn_flags, 4);
			*delegate = a->XNNPackCreate(opts);
		}
		if (*delegate != NULL) a->OptionsAddDelegate(o, *delegate);
	}
	TfLiteInterpreter* in = a->InterpreterCreate(m, o);
	a->OptionsDelete(o);
	if (in == NULL && *delegate != NULL) {
		a->XNNPackDelete(*delegate);
		*delegate = NULL;
	}
	return in;
}
static void api_interpreter_delete(edged_api* a, TfLiteInterpreter* in, TfLiteDelegate* d) {
	a->InterpreterDelete(in);
	if (d != NULL) a->XNNPackDelete(d);
}
static int api_allocate(edged_api* a, TfLiteInterpreter* in) { return a->AllocateTensors(in); }
static int api_can_resize(edged_api* a) { return a->ResizeInput != NULL; }
// api_resize sets input i's shape to the n dims at dims (C memory) and
// reallocates the tensors.
static int api_resize(edged_api* a, TfLiteInterpreter* in, int32_t i, const int* dims, int32_t n) {
	if (a->ResizeInput(in, i, dims, n) != 0) return 1;
	return a->AllocateTensors(in) != 0 ? 2 : 0;
}
// One interpreter's invoke, in C memory, for edged_tfl_invoke_call on the
// interpreter's own thread (internal/cthread).
typedef struct {
	edged_api* a;
	TfLiteInterpreter* in;
} edged_tfl_call;

// Not static: Go hands its address to the thread.
int edged_tfl_invoke_call(void* p) {
	edged_tfl_call* k = p;
	return k->a->Invoke(k->in);
}

static edged_tfl_call* api_call_new(edged_api* a, TfLiteInterpreter* in) {
	edged_tfl_call* k = malloc(sizeof *k);
	if (k) {
		k->a = a;
		k->in = in;
	}
	return k;
}
static int32_t api_input_count(edged_api* a, TfLiteInterpreter* in) { return a->InputCount(in); }
static int32_t api_output_count(edged_api* a, TfLiteInterpreter* in) { return a->OutputCount(in); }
static const TfLiteTensor* api_input(edged_api* a, TfLiteInterpreter* in, int32_t i) { return a->Input(in, i); }
static const TfLiteTensor* api_output(edged_api* a, TfLiteInterpreter* in, int32_t i) { return a->Output(in, i); }
static int api_tensor_type(edged_api* a, const TfLiteTensor* t) { return a->TensorType(t); }
static int32_t api_tensor_ndims(edged_api* a, const TfLiteTensor* t) { return a->TensorNumDims(t); }
static int32_t api_tensor_dim(edged_api* a, const TfLiteTensor* t, int32_t i) { return a->TensorDim(t, i); }
static size_t api_tensor_bytes(edged_api* a, const TfLiteTensor* t) { return a->TensorByteSize(t); }
static void* api_tensor_data(edged_api* a, const TfLiteTensor* t) { return a->TensorData(t); }
static const char* api_tensor_name(edged_api* a, const TfLiteTensor* t) { return a->TensorName(t); }
static edged_quant api_tensor_quant(edged_api* a, const TfLiteTensor* t) { return a->TensorQuant(t); }
static int api_has_xnnpack(edged_api* a) { return a->XNNPackCreate != NULL && a->XNNPackDelete != NULL; }
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/edged-io/edged/internal/cthread"
)

// XNNPACK delegate flags (TFLITE_XNNPACK_DELEGATE_FLAG_QS8 and _QU8): let
// the delegate take signed and unsigned 8-bit quantized operators.
const xnnFlagsQuantized = 0x1 | 0x2

// Library is an opened TFLite C library.
type Library struct {
	api  *C.edged_api
	path string
}

// Open loads the library at path (a file path, or a bare file name for the
// system loader to find).
func Open(path string) (*Library, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	api := C.edged_open(cpath, &buf[0], C.size_t(len(buf)))
	if api == nil {
		return nil, fmt.Errorf("%s: %s", path, C.GoString(&buf[0]))
	}
	return &Library{api: api, path: path}, nil
}

// Path returns where the library was loaded from.
func (l *Library) Path() string { return l.path }

// Version returns the runtime's version string, e.g. "2.9.0".
func (l *Library) Version() string { return C.GoString(C.api_version(l.api)) }

// HasXNNPACK reports whether the library exports the XNNPACK delegate.
func (l *Library) HasXNNPACK() bool { return C.api_has_xnnpack(l.api) != 0 }

// Model is a model held by the runtime. Its bytes live in C memory owned by
// the Model, because the runtime reads them for as long as any interpreter
// built on the model exists.
type Model struct {
	lib  *Library
	mu   sync.Mutex
	m    *C.TfLiteModel
	data unsafe.Pointer
	refs int // open interpreters
	done bool
}

// NewModel copies data into C memory and creates a runtime model from it.
func (l *Library) NewModel(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("tflite: empty model")
	}
	p := C.CBytes(data)
	m := C.api_model_create(l.api, p, C.size_t(len(data)))
	if m == nil {
		C.free(p)
		return nil, errors.New("tflite: the runtime rejected the model")
	}
	return &Model{lib: l, m: m, data: p}, nil
}

// Close releases the model once no interpreter uses it any more. It is safe
// to call twice.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = true
	m.freeLocked()
	return nil
}

func (m *Model) freeLocked() {
	if m.done && m.refs == 0 && m.m != nil {
		C.api_model_delete(m.lib.api, m.m)
		C.free(m.data)
		m.m, m.data = nil, nil
	}
}

// Interpreter runs a model. It is not safe for concurrent use, except Close.
type Interpreter struct {
	model    *Model
	mu       sync.Mutex
	in       *C.TfLiteInterpreter
	delegate *C.TfLiteDelegate
	errs     *C.edged_errbuf
	inputs   []Tensor
	outputs  []Tensor
	xnnpack  bool
	thread   *cthread.Thread // runs the invokes (owning their arguments), so that Invoke's caller waits holding no P
}

// NewInterpreter creates an interpreter on the model and allocates its
// tensors.
func (m *Model) NewInterpreter(opts InterpreterOptions) (*Interpreter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || m.m == nil {
		return nil, fmt.Errorf("new interpreter: %w", ErrClosed)
	}
	it := &Interpreter{model: m, errs: (*C.edged_errbuf)(C.calloc(1, C.size_t(unsafe.Sizeof(C.edged_errbuf{}))))}
	xnn := C.int(0)
	if opts.XNNPACK && m.lib.HasXNNPACK() {
		xnn = 1
	}
	it.in = C.api_interpreter_create(m.lib.api, m.m, C.int(opts.Threads), xnn, C.uint32_t(xnnFlagsQuantized), it.errs, &it.delegate)
	if it.in == nil {
		msg := it.message()
		C.free(unsafe.Pointer(it.errs))
		return nil, &Error{Op: "create interpreter", Message: msg}
	}
	it.xnnpack = it.delegate != nil
	m.refs++
	if C.api_allocate(m.lib.api, it.in) != 0 {
		msg := it.message()
		it.closeLocked()
		return nil, &Error{Op: "allocate tensors", Message: msg}
	}
	it.inputs = it.tensors(int(C.api_input_count(m.lib.api, it.in)), true)
	it.outputs = it.tensors(int(C.api_output_count(m.lib.api, it.in)), false)
	call := C.api_call_new(m.lib.api, it.in)
	if call == nil {
		it.closeLocked()
		return nil, &Error{Op: "create interpreter", Message: "out of memory"}
	}
	th, err := cthread.Start(unsafe.Pointer(C.edged_tfl_invoke_call), unsafe.Pointer(call))
	if err != nil {
		it.closeLocked()
		return nil, &Error{Op: "create interpreter", Message: err.Error()}
	}
	it.thread = th
	return it, nil
}

func (it *Interpreter) tensors(n int, input bool) []Tensor {
	a := it.model.lib.api
	out := make([]Tensor, n)
	for i := range out {
		var t *C.TfLiteTensor
		if input {
			t = C.api_input(a, it.in, C.int32_t(i))
		} else {
			t = C.api_output(a, it.in, C.int32_t(i))
		}
		if t == nil {
			continue
		}
		nd := int(C.api_tensor_ndims(a, t))
		shape := make([]int, max(nd, 0))
		for d := range shape {
			shape[d] = int(C.api_tensor_dim(a, t, C.int32_t(d)))
		}
		q := C.api_tensor_quant(a, t)
		out[i] = Tensor{
			Name:      C.GoString(C.api_tensor_name(a, t)),
			Type:      int(C.api_tensor_type(a, t)),
			Shape:     shape,
			Bytes:     int(C.api_tensor_bytes(a, t)),
			Scale:     float32(q.scale),
			ZeroPoint: int32(q.zero_point),
			data:      C.api_tensor_data(a, t),
		}
	}
	return out
}

// message returns and clears what the runtime reported so far.
func (it *Interpreter) message() string {
	if it.errs == nil || it.errs.len == 0 {
		return ""
	}
	s := C.GoStringN(&it.errs.msg[0], C.int(it.errs.len))
	it.errs.len = 0
	return strings.TrimSpace(s)
}

// XNNPACK reports whether the XNNPACK delegate is applied.
func (it *Interpreter) XNNPACK() bool { return it.xnnpack }

// Inputs describes the interpreter's input tensors, in order.
func (it *Interpreter) Inputs() []Tensor { return it.inputs }

// Outputs describes the interpreter's output tensors, in order.
func (it *Interpreter) Outputs() []Tensor { return it.outputs }

// InputData returns the memory of input tensor i, valid until Close.
func (it *Interpreter) InputData(i int) []byte { return view(it.inputs, i) }

// OutputData returns the memory of output tensor i, valid until the next
// Invoke or Close.
func (it *Interpreter) OutputData(i int) []byte { return view(it.outputs, i) }

func view(ts []Tensor, i int) []byte {
	if i < 0 || i >= len(ts) || ts[i].data == nil || ts[i].Bytes == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ts[i].data), ts[i].Bytes)
}

// Invoke runs the model on the current inputs, on the interpreter's own
// thread (see internal/cthread).
func (it *Interpreter) Invoke() error {
	th := it.thread
	if it.in == nil || th == nil {
		return fmt.Errorf("invoke: %w", ErrClosed)
	}
	s, err := th.Call()
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	if s != 0 {
		return &Error{Op: "invoke", Message: it.message()}
	}
	return nil
}

// ErrNoResize is ResizeInput's error on a library without
// TfLiteInterpreterResizeInputTensor.
var ErrNoResize = errors.New("tflite: this library cannot resize input tensors")

// ResizeInput gives input tensor i the shape and reallocates the tensors;
// the inputs' and outputs' descriptions (and their memory) change. It
// must not run while Invoke does (a session is used by one goroutine).
func (it *Interpreter) ResizeInput(i int, shape []int) error {
	it.model.mu.Lock()
	defer it.model.mu.Unlock()
	a := it.model.lib.api
	if it.in == nil {
		return fmt.Errorf("resize input: %w", ErrClosed)
	}
	if C.api_can_resize(a) == 0 {
		return ErrNoResize
	}
	if i < 0 || i >= len(it.inputs) || len(shape) == 0 || len(shape) > 8 {
		return fmt.Errorf("resize input %d to %v: no such input or a bad shape", i, shape)
	}
	dims := (*C.int)(C.calloc(C.size_t(len(shape)), C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(dims))
	ds := unsafe.Slice(dims, len(shape))
	for k, d := range shape {
		if d <= 0 || d > 1<<20 {
			return fmt.Errorf("resize input %d to %v: dimension %d out of range", i, shape, d)
		}
		ds[k] = C.int(d)
	}
	switch C.api_resize(a, it.in, C.int32_t(i), dims, C.int32_t(len(shape))) {
	case 0:
	case 1:
		return &Error{Op: "resize input", Message: it.message()}
	default:
		// The interpreter has no usable tensors now; the caller closes it.
		it.inputs, it.outputs = nil, nil
		return &Error{Op: "allocate tensors after resize", Message: it.message()}
	}
	it.inputs = it.tensors(int(C.api_input_count(a, it.in)), true)
	it.outputs = it.tensors(int(C.api_output_count(a, it.in)), false)
	return nil
}

// Close deletes the interpreter and its delegate. It is safe to call twice.
func (it *Interpreter) Close() error {
	it.model.mu.Lock()
	defer it.model.mu.Unlock()
	it.closeLocked()
	return nil
}

func (it *Interpreter) closeLocked() {
	if it.in == nil {
		return
	}
	if it.thread != nil {
		it.thread.Close() // after a running invoke returns
		it.thread = nil
	}
	C.api_interpreter_delete(it.model.lib.api, it.in, it.delegate)
	C.free(unsafe.Pointer(it.errs))
	it.in, it.delegate, it.errs = nil, nil, nil
	it.inputs, it.outputs = nil, nil
	it.model.refs--
	it.model.freeLocked()
}
