//go:build cgo

package tflite

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

// openLib opens the library the source tree's `make tflite-lib` fetched,
// or $EDGED_TFLITE_LIB.
func openLib(t *testing.T) *Library {
	t.Helper()
	lib, err := Open(testenv.Library(t, "tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func readFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{testenv.Root(t)}, parts...)...))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && os.Getenv("CI") == "" {
			t.Skipf("%v", err)
		}
		t.Fatal(err)
	}
	return data
}

func TestOpenMissing(t *testing.T) {
	_, err := Open("/nonexistent/libtensorflowlite_c.so")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libtensorflowlite_c.so") {
		t.Fatalf("got %v, want an error naming the path", err)
	}
	// A real shared library that is not TFLite: the first missing symbol is named.
	_, err = Open("libc.so.6")
	if err == nil || !strings.Contains(err.Error(), "TfLiteVersion") {
		t.Fatalf("libc opened as TFLite: %v", err)
	}
}

func TestVersion(t *testing.T) {
	lib := openLib(t)
	if v := lib.Version(); v == "" || v[0] < '2' || v[0] > '9' {
		t.Errorf("version %q, want 2.x or later", v)
	}
}

// invokeOnce runs the default model on a fixed input and returns a copy of
// its output.
func invokeOnce(t *testing.T, it *Interpreter) []byte {
	t.Helper()
	in := it.InputData(0)
	for i := range in {
		in[i] = byte(i % 251)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(it.OutputData(0))
}

// TestModelOwnsItsBytes checks that the model keeps its own copy of the
// file for as long as an interpreter needs it: the caller's slice is
// scribbled over and the model closed, and the interpreter still computes
// what a fresh one does.
func TestModelOwnsItsBytes(t *testing.T) {
	lib := openLib(t)
	data := readFile(t, "models", "efficientnet_lite0_int8.tflite")
	ref, err := lib.NewModel(data)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	refIt, err := ref.NewInterpreter(InterpreterOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer refIt.Close()
	want := invokeOnce(t, refIt)

	scratch := bytes.Clone(data)
	m, err := lib.NewModel(scratch)
	if err != nil {
		t.Fatal(err)
	}
	it, err := m.NewInterpreter(InterpreterOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range scratch {
		scratch[i] = 0xAA
	}
	m.Close()
	runtime.GC()
	if got := invokeOnce(t, it); !bytes.Equal(got, want) {
		t.Error("output changed once the caller's bytes were overwritten and the model closed")
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := it.Invoke(); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if it.InputData(0) != nil || it.OutputData(0) != nil {
		t.Error("tensor memory still handed out after Close")
	}
	if _, err := m.NewInterpreter(InterpreterOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("NewInterpreter on a closed model: %v, want ErrClosed", err)
	}
}

func TestTensors(t *testing.T) {
	lib := openLib(t)
	m, err := lib.NewModel(readFile(t, "models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, xnn := range []bool{false, true} {
		it, err := m.NewInterpreter(InterpreterOptions{Threads: 2, XNNPACK: xnn})
		if err != nil {
			t.Fatal(err)
		}
		if it.XNNPACK() != (xnn && lib.HasXNNPACK()) {
			t.Errorf("XNNPACK applied %v, asked %v (library has it: %v)", it.XNNPACK(), xnn, lib.HasXNNPACK())
		}
		in, out := it.Inputs(), it.Outputs()
		if len(in) != 1 || in[0].Type != 3 || len(in[0].Shape) != 4 || in[0].Bytes != 224*224*3 || len(it.InputData(0)) != in[0].Bytes {
			t.Errorf("input %+v, want uint8 (3) [1 224 224 3]", in[0])
		}
		if len(out) != 1 || out[0].Bytes != 1000 || out[0].Scale <= 0 || len(it.OutputData(0)) != 1000 {
			t.Errorf("output %+v, want 1000 quantized bytes", out[0])
		}
		if it.InputData(1) != nil || it.OutputData(-1) != nil {
			t.Error("memory of tensors that do not exist")
		}
		it.Close()
	}
}

func TestRuntimeErrors(t *testing.T) {
	lib := openLib(t)
	if _, err := lib.NewModel(nil); err == nil {
		t.Error("empty model accepted")
	}
	// The runtime itself rejects what is not a flatbuffer (edged checks files
	// with internal/modelfile first; this is the runtime's own guard).
	if _, err := lib.NewModel([]byte("definitely not a TFLite flatbuffer, just text")); err == nil {
		t.Error("text accepted as a model")
	}
	data := readFile(t, "third_party", "mediapipe", "selfie_segmentation.tflite")
	m, err := lib.NewModel(data)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.NewInterpreter(InterpreterOptions{Threads: 1})
	var te *Error
	if !errors.As(err, &te) || !strings.Contains(te.Message, "Convolution2DTransposeBias") {
		t.Fatalf("got %v, want an *Error carrying the runtime's message about Convolution2DTransposeBias", err)
	}
	// The failed interpreter released its hold on the model.
	m.mu.Lock()
	refs := m.refs
	m.mu.Unlock()
	if refs != 0 {
		t.Errorf("%d interpreters hold the model after a failed creation", refs)
	}
}
