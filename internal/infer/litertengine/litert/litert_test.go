//go:build cgo

package litert

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

func openLib(t *testing.T) *Library {
	t.Helper()
	l, err := Open(testenv.Library(t, "litert"))
	if err != nil {
		t.Fatalf("LiteRT library: %v", err)
	}
	return l
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "libLiteRt.so"))
	if err == nil {
		t.Fatal("opened a library that does not exist")
	}
}

// TestModelLifecycle loads the default model, compiles it twice, runs it,
// and closes everything twice in both orders.
func TestModelLifecycle(t *testing.T) {
	l := openLib(t)
	data, err := os.ReadFile(filepath.Join(testenv.Root(t), "models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.NewModel(nil); err == nil {
		t.Error("empty model accepted")
	}
	if _, err := l.NewModel([]byte("not a model at all, just text")); err == nil {
		t.Error("text accepted as a model")
	}
	m, err := l.NewModel(data)
	if err != nil {
		t.Fatal(err)
	}
	in, out := m.Inputs(), m.Outputs()
	if len(in) != 1 || len(out) != 1 || len(in[0].Shape) != 4 || in[0].Shape[1] != 224 || in[0].Type != 3 {
		t.Fatalf("inputs %+v outputs %+v: want one uint8 1x224x224x3 input and one output", in, out)
	}
	a, err := m.Compile(1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Compile(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.InputData(0)) < 224*224*3 || a.OutputData(0) == nil || a.InputData(1) != nil {
		t.Fatalf("buffers: input %d bytes, output %d bytes", len(a.InputData(0)), len(a.OutputData(0)))
	}
	if err := a.Run(); err != nil {
		t.Fatal(err)
	}
	m.Close() // the compiled models keep the model alive
	if err := b.Run(); err != nil {
		t.Fatalf("run after model Close with a compiled model open: %v", err)
	}
	if _, err := m.Compile(1); !errors.Is(err, ErrClosed) {
		t.Errorf("compile after Close: %v, want ErrClosed", err)
	}
	a.Close()
	a.Close()
	if err := a.Run(); !errors.Is(err, ErrClosed) {
		t.Errorf("run after Close: %v, want ErrClosed", err)
	}
	b.Close()
	m.Close()
}
