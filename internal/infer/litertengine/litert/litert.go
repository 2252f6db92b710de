//go:build cgo

// Package litert is edged's binding to the LiteRT C library (libLiteRt.so,
// TFLite's successor, as shipped in the ai-edge-litert 2.2.0 wheel). The
// library is opened at run time (dlopen), so edged builds and runs without
// it. Only the functions below are declared; abi_test.go checks them
// against the prototypes of litert/c/*.h at the v2.2.0 tag and against the
// symbols the pinned libraries export.
//
// LiteRtLayout starts with bit-fields that cgo cannot represent, so Go never
// touches it: the C helpers below copy the rank and dimensions out.
//
// This is the only package that touches LiteRT's C memory: Go values own
// their C handles and free them in Close, which is safe to call twice.
package litert

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int LiteRtStatus;
typedef size_t LiteRtParamIndex;
typedef struct LiteRtEnvironmentT* LiteRtEnvironment;
typedef struct LiteRtModelT* LiteRtModel;
typedef struct LiteRtSignatureT* LiteRtSignature;
typedef struct LiteRtTensorT* LiteRtTensor;
typedef struct LiteRtOptionsT* LiteRtOptions;
typedef struct LiteRtOpaqueOptionsT* LiteRtOpaqueOptions;
typedef struct LiteRtCompiledModelT* LiteRtCompiledModel;
typedef struct LiteRtTensorBufferRequirementsT* LiteRtTensorBufferRequirements;
typedef struct LiteRtTensorBufferT* LiteRtTensorBuffer;

// Layouts as litert_layout.h and litert_model_types.h (v2.2.0) define them;
// their sizes and offsets are asserted in edged_open.
#define EDGED_MAX_RANK 8
typedef struct {
	unsigned int rank : 7;
	unsigned int has_strides : 1;
	int32_t dimensions[EDGED_MAX_RANK];
	uint32_t strides[EDGED_MAX_RANK];
} LiteRtLayout;
typedef struct { int element_type; LiteRtLayout layout; } LiteRtRankedTensorType;
typedef struct { float scale; int64_t zero_point; } LiteRtQuantizationPerTensor;

_Static_assert(sizeof(LiteRtLayout) == 68, "LiteRtLayout size");
_Static_assert(sizeof(LiteRtRankedTensorType) == 72, "LiteRtRankedTensorType size");
_Static_assert(sizeof(LiteRtQuantizationPerTensor) == 16, "LiteRtQuantizationPerTensor size");

// The functions edged calls, resolved with dlsym.
typedef struct {
	void* handle;
	LiteRtStatus (*CreateEnvironment)(int, const void*, LiteRtEnvironment*);
	void (*DestroyEnvironment)(LiteRtEnvironment);
	LiteRtStatus (*CreateModelFromBuffer)(LiteRtEnvironment, const void*, size_t, LiteRtModel*);
	void (*DestroyModel)(LiteRtModel);
	LiteRtStatus (*GetNumModelSignatures)(LiteRtModel, LiteRtParamIndex*);
	LiteRtStatus (*GetModelSignature)(LiteRtModel, LiteRtParamIndex, LiteRtSignature*);
	LiteRtStatus (*GetNumSignatureInputs)(LiteRtSignature, LiteRtParamIndex*);
	LiteRtStatus (*GetNumSignatureOutputs)(LiteRtSignature, LiteRtParamIndex*);
	LiteRtStatus (*GetSignatureInputTensorByIndex)(LiteRtSignature, LiteRtParamIndex, LiteRtTensor*);
	LiteRtStatus (*GetSignatureOutputTensorByIndex)(LiteRtSignature, LiteRtParamIndex, LiteRtTensor*);
	LiteRtStatus (*GetTensorName)(LiteRtTensor, const char**);
	LiteRtStatus (*GetTensorTypeId)(LiteRtTensor, int*);
	LiteRtStatus (*GetRankedTensorType)(LiteRtTensor, LiteRtRankedTensorType*);
	LiteRtStatus (*GetQuantizationTypeId)(LiteRtTensor, int*);
	LiteRtStatus (*GetPerTensorQuantization)(LiteRtTensor, LiteRtQuantizationPerTensor*);
	LiteRtStatus (*CreateOptions)(LiteRtOptions*);
	void (*DestroyOptions)(LiteRtOptions);
	LiteRtStatus (*SetOptionsHardwareAccelerators)(LiteRtOptions, int);
	LiteRtStatus (*CreateOpaqueOptions)(const char*, void*, void (*)(void*), LiteRtOpaqueOptions*);
	void (*DestroyOpaqueOptions)(LiteRtOpaqueOptions);
	LiteRtStatus (*AddOpaqueOptions)(LiteRtOptions, LiteRtOpaqueOptions);
	LiteRtStatus (*CreateCompiledModel)(LiteRtEnvironment, LiteRtModel, LiteRtOptions, LiteRtCompiledModel*);
	void (*DestroyCompiledModel)(LiteRtCompiledModel);
	LiteRtStatus (*GetInputRequirements)(LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, LiteRtTensorBufferRequirements*);
	LiteRtStatus (*GetOutputRequirements)(LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, LiteRtTensorBufferRequirements*);
	LiteRtStatus (*GetRequirementsBufferSize)(LiteRtTensorBufferRequirements, size_t*);
	LiteRtStatus (*CreateManagedTensorBufferFromRequirements)(LiteRtEnvironment, const LiteRtRankedTensorType*, LiteRtTensorBufferRequirements, LiteRtTensorBuffer*);
	void (*DestroyTensorBuffer)(LiteRtTensorBuffer);
	LiteRtStatus (*LockTensorBuffer)(LiteRtTensorBuffer, void**, int);
	LiteRtStatus (*UnlockTensorBuffer)(LiteRtTensorBuffer);
	LiteRtStatus (*RunCompiledModel)(LiteRtCompiledModel, LiteRtParamIndex, size_t, LiteRtTensorBuffer*, size_t, LiteRtTensorBuffer*);
} edged_lrt;

static void* edged_lrt_sym(void* h, const char* name, char* missing, size_t n) {
	void* p = dlsym(h, name);
	if (p == NULL && missing[0] == 0) snprintf(missing, n, "%s", name);
	return p;
}

#define SYM(field, name) a->field = edged_lrt_sym(h, name, missing, sizeof missing)

// edged_lrt_open loads the library at path and resolves every symbol. On
// failure it returns NULL and writes the reason into err.
static edged_lrt* edged_lrt_open(const char* path, char* err, size_t n) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, n, "%s", dlerror());
		return NULL;
	}
	edged_lrt* a = calloc(1, sizeof(edged_lrt));
	char missing[128] = {0};
	a->handle = h;
	SYM(CreateEnvironment, "LiteRtCreateEnvironment");
	SYM(DestroyEnvironment, "LiteRtDestroyEnvironment");
	SYM(CreateModelFromBuffer, "LiteRtCreateModelFromBuffer");
	SYM(DestroyModel, "LiteRtDestroyModel");
	SYM(GetNumModelSignatures, "LiteRtGetNumModelSignatures");
	SYM(GetModelSignature, "LiteRtGetModelSignature");
	SYM(GetNumSignatureInputs, "LiteRtGetNumSignatureInputs");
	SYM(GetNumSignatureOutputs, "LiteRtGetNumSignatureOutputs");
	SYM(GetSignatureInputTensorByIndex, "LiteRtGetSignatureInputTensorByIndex");
	SYM(GetSignatureOutputTensorByIndex, "LiteRtGetSignatureOutputTensorByIndex");
	SYM(GetTensorName, "LiteRtGetTensorName");
	SYM(GetTensorTypeId, "LiteRtGetTensorTypeId");
	SYM(GetRankedTensorType, "LiteRtGetRankedTensorType");
	SYM(GetQuantizationTypeId, "LiteRtGetQuantizationTypeId");
	SYM(GetPerTensorQuantization, "LiteRtGetPerTensorQuantization");
	SYM(CreateOptions, "LiteRtCreateOptions");
	SYM(DestroyOptions, "LiteRtDestroyOptions");
	SYM(SetOptionsHardwareAccelerators, "LiteRtSetOptionsHardwareAccelerators");
	SYM(CreateOpaqueOptions, "LiteRtCreateOpaqueOptions");
	SYM(DestroyOpaqueOptions, "LiteRtDestroyOpaqueOptions");
	SYM(AddOpaqueOptions, "LiteRtAddOpaqueOptions");
	SYM(CreateCompiledModel, "LiteRtCreateCompiledModel");
	SYM(DestroyCompiledModel, "LiteRtDestroyCompiledModel");
	SYM(GetInputRequirements, "LiteRtGetCompiledModelInputBufferRequirements");
	SYM(GetOutputRequirements, "LiteRtGetCompiledModelOutputBufferRequirements");
	SYM(GetRequirementsBufferSize, "LiteRtGetTensorBufferRequirementsBufferSize");
	SYM(CreateManagedTensorBufferFromRequirements, "LiteRtCreateManagedTensorBufferFromRequirements");
	SYM(DestroyTensorBuffer, "LiteRtDestroyTensorBuffer");
	SYM(LockTensorBuffer, "LiteRtLockTensorBuffer");
	SYM(UnlockTensorBuffer, "LiteRtUnlockTensorBuffer");
	SYM(RunCompiledModel, "LiteRtRunCompiledModel");
	if (missing[0] != 0) {
		snprintf(err, n, "symbol %s not found (not a LiteRT 2.2 library?)", missing);
		dlclose(h);
		free(a);
		return NULL;
	}
	return a;
}

static LiteRtStatus lrt_env_create(edged_lrt* a, LiteRtEnvironment* e) { return a->CreateEnvironment(0, NULL, e); }
static void lrt_env_destroy(edged_lrt* a, LiteRtEnvironment e) { a->DestroyEnvironment(e); }
static LiteRtStatus lrt_model_create(edged_lrt* a, LiteRtEnvironment e, const void* d, size_t n, LiteRtModel* m) {
	return a->CreateModelFromBuffer(e, d, n, m);
}
static void lrt_model_destroy(edged_lrt* a, LiteRtModel m) { a->DestroyModel(m); }

// edged_tensor is what Go reads of a signature tensor.
typedef struct {
	const char* name;
	int ranked;
	int element_type;
	int rank;
	int32_t dims[EDGED_MAX_RANK];
	int quantized; // 1 when per-tensor
	float scale;
	int64_t zero_point;
} edged_tensor;

// lrt_signature_tensors counts (t == NULL) or describes the inputs
// (input != 0) or outputs of the model's first signature.
static LiteRtStatus lrt_signature_tensors(edged_lrt* a, LiteRtModel m, int input, size_t* count, edged_tensor* t) {
	LiteRtSignature sig;
	LiteRtStatus s = a->GetModelSignature(m, 0, &sig);
	if (s != 0) return s;
	s = input ? a->GetNumSignatureInputs(sig, count) : a->GetNumSignatureOutputs(sig, count);
	if (s != 0 || t == NULL) return s;
	for (size_t i = 0; i < *count; i++) {
		LiteRtTensor tt;
		s = input ? a->GetSignatureInputTensorByIndex(sig, i, &tt) : a->GetSignatureOutputTensorByIndex(sig, i, &tt);
		if (s != 0) return s;
		memset(&t[i], 0, sizeof t[i]);
		a->GetTensorName(tt, &t[i].name);
		int id = -1;
		if ((s = a->GetTensorTypeId(tt, &id)) != 0) return s;
		if (id == 0) { // kLiteRtRankedTensorType
			LiteRtRankedTensorType rt;
			if ((s = a->GetRankedTensorType(tt, &rt)) != 0) return s;
			t[i].ranked = 1;
			t[i].element_type = rt.element_type;
			t[i].rank = rt.layout.rank;
			for (int d = 0; d < t[i].rank && d < EDGED_MAX_RANK; d++) t[i].dims[d] = rt.layout.dimensions[d];
		}
		int q = 0;
		if (a->GetQuantizationTypeId(tt, &q) == 0 && q == 1) { // kLiteRtQuantizationPerTensor
			LiteRtQuantizationPerTensor p;
			if (a->GetPerTensorQuantization(tt, &p) == 0) {
				t[i].quantized = 1;
				t[i].scale = p.scale;
				t[i].zero_point = p.zero_point;
			}
		}
	}
	return 0;
}

// lrt_options builds compilation options for the CPU accelerator with
// threads in the "xnnpack" opaque options (a TOML text payload, as
// litert_cpu_options.cc writes it).
static LiteRtStatus lrt_options(edged_lrt* a, int threads, LiteRtOptions* o) {
	LiteRtStatus s = a->CreateOptions(o);
	if (s != 0) return s;
	if ((s = a->SetOptionsHardwareAccelerators(*o, 1)) != 0) goto fail; // kLiteRtHwAcceleratorCpu
	if (threads > 0) {
		char* toml = malloc(64);
		snprintf(toml, 64, "num_threads = %d\n", threads);
		LiteRtOpaqueOptions op;
		if ((s = a->CreateOpaqueOptions("xnnpack", toml, free, &op)) != 0) { free(toml); goto fail; }
		if ((s = a->AddOpaqueOptions(*o, op)) != 0) { a->DestroyOpaqueOptions(op); goto fail; }
	}
	return 0;
fail:
	a->DestroyOptions(*o);
	*o = NULL;
	return s;
}

static LiteRtStatus lrt_compile(edged_lrt* a, LiteRtEnvironment e, LiteRtModel m, LiteRtOptions o, LiteRtCompiledModel* c) {
	return a->CreateCompiledModel(e, m, o, c);
}
static void lrt_compiled_destroy(edged_lrt* a, LiteRtCompiledModel c, LiteRtOptions o) {
	a->DestroyCompiledModel(c);
	if (o != NULL) a->DestroyOptions(o);
}

// lrt_buffer creates a managed host buffer for a signature tensor as the
// compiled model requires it, and returns its memory and size.
static LiteRtStatus lrt_buffer(edged_lrt* a, LiteRtEnvironment e, LiteRtModel m, LiteRtCompiledModel c, int input,
		size_t i, LiteRtTensorBuffer* b, void** mem, size_t* size) {
	LiteRtSignature sig;
	LiteRtStatus s = a->GetModelSignature(m, 0, &sig);
	if (s != 0) return s;
	LiteRtTensor tt;
	s = input ? a->GetSignatureInputTensorByIndex(sig, i, &tt) : a->GetSignatureOutputTensorByIndex(sig, i, &tt);
	if (s != 0) return s;
	LiteRtRankedTensorType rt;
	if ((s = a->GetRankedTensorType(tt, &rt)) != 0) return s;
	LiteRtTensorBufferRequirements req; // owned by the compiled model
	s = input ? a->GetInputRequirements(c, 0, i, &req) : a->GetOutputRequirements(c, 0, i, &req);
	if (s != 0) return s;
	if ((s = a->GetRequirementsBufferSize(req, size)) != 0) return s;
	if ((s = a->CreateManagedTensorBufferFromRequirements(e, &rt, req, b)) != 0) return s;
	if ((s = a->LockTensorBuffer(*b, mem, 2)) != 0) { // kLiteRtTensorBufferLockModeReadWrite
		a->DestroyTensorBuffer(*b);
		return s;
	}
	return a->UnlockTensorBuffer(*b);
}
static void lrt_buffer_destroy(edged_lrt* a, LiteRtTensorBuffer b) { a->DestroyTensorBuffer(b); }

// One run's arguments, in C memory, for edged_lrt_run_call on the model's
// own thread (internal/cthread).
typedef struct {
	edged_lrt* a;
	LiteRtCompiledModel c;
	size_t ni, no;
	LiteRtTensorBuffer* in;
	LiteRtTensorBuffer* out;
} edged_lrt_call;

// Not static: Go hands its address to the thread.
int edged_lrt_run_call(void* p) {
	edged_lrt_call* k = p;
	return k->a->RunCompiledModel(k->c, 0, k->ni, k->in, k->no, k->out);
}

static edged_lrt_call* lrt_call_new(edged_lrt* a, LiteRtCompiledModel c, size_t ni, LiteRtTensorBuffer* in, size_t no, LiteRtTensorBuffer* out) {
	edged_lrt_call* k = malloc(sizeof *k);
	if (k) {
		k->a = a;
		k->c = c;
		k->ni = ni;
		k->in = in;
		k->no = no;
		k->out = out;
	}
	return k;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/edged-io/edged/internal/cthread"
)

// Library is an opened LiteRT C library.
type Library struct {
	api  *C.edged_lrt
	path string
}

// Open loads the library at path (a file path, or a bare file name for the
// system loader to find) and resolves every function edged calls.
func Open(path string) (*Library, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	api := C.edged_lrt_open(cpath, &buf[0], C.size_t(len(buf)))
	if api == nil {
		return nil, fmt.Errorf("%s: %s", path, C.GoString(&buf[0]))
	}
	return &Library{api: api, path: path}, nil
}

// Path returns where the library was loaded from.
func (l *Library) Path() string { return l.path }

// Model is a model held by the runtime with its own environment. Its bytes
// live in C memory owned by the Model, because the runtime may read them
// for as long as the model exists.
type Model struct {
	lib     *Library
	mu      sync.Mutex
	env     C.LiteRtEnvironment
	m       C.LiteRtModel
	data    unsafe.Pointer
	inputs  []Tensor
	outputs []Tensor
	refs    int // open compiled models
	done    bool
}

// NewModel copies data into C memory and creates an environment and a
// runtime model from it. It reads the tensors of the model's first
// signature, which are the ones a compiled model runs.
func (l *Library) NewModel(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("litert: empty model")
	}
	m := &Model{lib: l}
	if s := C.lrt_env_create(l.api, &m.env); s != 0 {
		return nil, statusError("create environment", s)
	}
	m.data = C.CBytes(data)
	if s := C.lrt_model_create(l.api, m.env, m.data, C.size_t(len(data)), &m.m); s != 0 {
		C.free(m.data)
		C.lrt_env_destroy(l.api, m.env)
		return nil, statusError("create model", s)
	}
	var err error
	if m.inputs, err = m.tensors(true); err == nil {
		m.outputs, err = m.tensors(false)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Model) tensors(input bool) ([]Tensor, error) {
	in := C.int(0)
	kind := "outputs"
	if input {
		in, kind = 1, "inputs"
	}
	var n C.size_t
	if s := C.lrt_signature_tensors(m.lib.api, m.m, in, &n, nil); s != 0 {
		return nil, statusError("signature "+kind, s)
	}
	if n == 0 {
		return nil, nil
	}
	ct := make([]C.edged_tensor, int(n))
	if s := C.lrt_signature_tensors(m.lib.api, m.m, in, &n, &ct[0]); s != 0 {
		return nil, statusError("signature "+kind, s)
	}
	out := make([]Tensor, len(ct))
	for i, t := range ct {
		shape := make([]int, int(t.rank))
		for d := range shape {
			shape[d] = int(t.dims[d])
		}
		out[i] = Tensor{Name: C.GoString(t.name), Ranked: t.ranked != 0, Type: int(t.element_type), Shape: shape}
		if t.quantized != 0 {
			out[i].Scale, out[i].ZeroPoint = float32(t.scale), int64(t.zero_point)
		}
	}
	return out, nil
}

// Inputs describes the model's input tensors, in signature order.
func (m *Model) Inputs() []Tensor { return m.inputs }

// Outputs describes the model's output tensors, in signature order.
func (m *Model) Outputs() []Tensor { return m.outputs }

// Close releases the model once no compiled model uses it any more. It is
// safe to call twice.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = true
	m.freeLocked()
	return nil
}

func (m *Model) freeLocked() {
	if m.done && m.refs == 0 && m.m != nil {
		C.lrt_model_destroy(m.lib.api, m.m)
		C.lrt_env_destroy(m.lib.api, m.env)
		C.free(m.data)
		m.m, m.env, m.data = nil, nil, nil
	}
}

// CompiledModel runs a model on the CPU accelerator with its own managed
// input and output buffers. It is not safe for concurrent use, except Close.
type CompiledModel struct {
	model   *Model
	c       C.LiteRtCompiledModel
	opts    C.LiteRtOptions
	bufs    unsafe.Pointer // C array: input buffers then output buffers
	nin     int
	nout    int
	inMem   [][]byte
	outMem  [][]byte
	threads int
	thread  *cthread.Thread // runs the model (owning Run's arguments), so that Run's caller waits holding no P
}

// Compile compiles the model for the CPU with the given thread count (0:
// the runtime's default) and allocates its buffers.
func (m *Model) Compile(threads int) (*CompiledModel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || m.m == nil {
		return nil, fmt.Errorf("compile: %w", ErrClosed)
	}
	a := m.lib.api
	cm := &CompiledModel{model: m, nin: len(m.inputs), nout: len(m.outputs), threads: threads}
	if s := C.lrt_options(a, C.int(threads), &cm.opts); s != 0 {
		return nil, statusError("create options", s)
	}
	if s := C.lrt_compile(a, m.env, m.m, cm.opts, &cm.c); s != 0 {
		C.lrt_compiled_destroy(a, nil, cm.opts)
		return nil, statusError("compile model", s)
	}
	m.refs++
	n := cm.nin + cm.nout
	cm.bufs = C.calloc(C.size_t(max(n, 1)), C.size_t(unsafe.Sizeof(C.LiteRtTensorBuffer(nil))))
	bufs := unsafe.Slice((*C.LiteRtTensorBuffer)(cm.bufs), max(n, 1))
	for i := range n {
		input, idx, what := C.int(1), i, "input"
		if i >= cm.nin {
			input, idx, what = 0, i-cm.nin, "output"
		}
		var mem unsafe.Pointer
		var size C.size_t
		if s := C.lrt_buffer(a, m.env, m.m, cm.c, input, C.size_t(idx), &bufs[i], &mem, &size); s != 0 {
			cm.closeLocked()
			return nil, statusError(fmt.Sprintf("%s buffer %d", what, idx), s)
		}
		view := unsafe.Slice((*byte)(mem), int(size))
		if input == 1 {
			cm.inMem = append(cm.inMem, view)
		} else {
			cm.outMem = append(cm.outMem, view)
		}
	}
	bufp := (*C.LiteRtTensorBuffer)(cm.bufs)
	outs := (*C.LiteRtTensorBuffer)(unsafe.Add(cm.bufs, uintptr(cm.nin)*unsafe.Sizeof(C.LiteRtTensorBuffer(nil))))
	call := C.lrt_call_new(a, cm.c, C.size_t(cm.nin), bufp, C.size_t(cm.nout), outs)
	if call == nil {
		cm.closeLocked()
		return nil, errors.New("compile: out of memory")
	}
	th, err := cthread.Start(unsafe.Pointer(C.edged_lrt_run_call), unsafe.Pointer(call))
	if err != nil {
		cm.closeLocked()
		return nil, fmt.Errorf("compile: %w", err)
	}
	cm.thread = th
	return cm, nil
}

// Threads returns the thread count the model was compiled with.
func (cm *CompiledModel) Threads() int { return cm.threads }

// InputData returns the memory of input buffer i, valid until Close.
func (cm *CompiledModel) InputData(i int) []byte {
	if i < 0 || i >= len(cm.inMem) {
		return nil
	}
	return cm.inMem[i]
}

// OutputData returns the memory of output buffer i, valid until the next
// Run or Close.
func (cm *CompiledModel) OutputData(i int) []byte {
	if i < 0 || i >= len(cm.outMem) {
		return nil
	}
	return cm.outMem[i]
}

// Run runs the compiled model on its input buffers, on the model's own
// thread (see internal/cthread).
func (cm *CompiledModel) Run() error {
	th := cm.thread
	if cm.c == nil || th == nil {
		return fmt.Errorf("run: %w", ErrClosed)
	}
	s, err := th.Call()
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if s != 0 {
		return statusError("run", C.LiteRtStatus(s))
	}
	return nil
}

// Close destroys the buffers and the compiled model. It is safe to call
// twice.
func (cm *CompiledModel) Close() error {
	cm.model.mu.Lock()
	defer cm.model.mu.Unlock()
	cm.closeLocked()
	return nil
}

func (cm *CompiledModel) closeLocked() {
	if cm.c == nil {
		return
	}
	if cm.thread != nil {
		cm.thread.Close() // after a running call returns
		cm.thread = nil
	}
	a := cm.model.lib.api
	bufs := unsafe.Slice((*C.LiteRtTensorBuffer)(cm.bufs), max(cm.nin+cm.nout, 1))
	for _, b := range bufs {
		if b != nil {
			C.lrt_buffer_destroy(a, b)
		}
	}
	C.free(cm.bufs)
	C.lrt_compiled_destroy(a, cm.c, cm.opts)
	cm.c, cm.opts, cm.bufs = nil, nil, nil
	cm.inMem, cm.outMem = nil, nil
	cm.model.refs--
	cm.model.freeLocked()
}

func statusError(op string, s C.LiteRtStatus) error { return &Error{Op: op, Status: int(s)} }
