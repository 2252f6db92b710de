package litertengine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/testenv"
)

func TestOpenMissingSaysHow(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), LibraryName))
	if err == nil {
		t.Fatal("opened a library that does not exist")
	}
	for _, want := range []string{"make litert-lib", "EDGED_LITERT_LIB", "not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCandidatesOrder(t *testing.T) {
	t.Setenv("EDGED_LITERT_LIB", "/opt/custom/libLiteRt.so")
	c := Candidates()
	if c[0] != "/opt/custom/libLiteRt.so" || c[len(c)-1] != LibraryName {
		t.Errorf("candidates %v: want $EDGED_LITERT_LIB first and the bare name last", c)
	}
}

// TestLoadRejects feeds the engine files and options that must never reach
// the runtime: each gives an error naming the file or option.
func TestLoadRejects(t *testing.T) {
	e := openEngine(t)
	if !strings.HasPrefix(e.Name(), "litert 2.") {
		t.Errorf("Name() = %q, want litert and the pinned version", e.Name())
	}
	good := filepath.Join(testenv.Root(t), "models", "efficientnet_lite0_int8.tflite")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "truncated.tflite")
	if err := os.WriteFile(bad, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := infer.LoadFile(e, bad, infer.Options{}); err == nil || !strings.Contains(err.Error(), "truncated.tflite") {
		t.Errorf("truncated model: %v, want an error naming the file", err)
	}
	if _, err := infer.LoadFile(e, good, infer.Options{Accelerate: "off"}); err == nil || !strings.Contains(err.Error(), "tflite") {
		t.Errorf("accelerate off: %v, want an error pointing at the tflite engine", err)
	}
	m, err := infer.LoadFile(e, good, infer.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.InputBuffer(0)) != 224*224*3 || s.InputBuffer(1) != nil || len(s.OutputBuffer(0)) != s.Outputs()[0].Bytes {
		t.Errorf("buffers: input %d bytes, output %d bytes", len(s.InputBuffer(0)), len(s.OutputBuffer(0)))
	}
	s.Close()
	s.Close()
	if err := s.Invoke(); !errors.Is(err, infer.ErrClosed) {
		t.Errorf("invoke after Close: %v", err)
	}
	m.Close()
	m.Close()
	if _, err := m.NewSession(); !errors.Is(err, infer.ErrClosed) {
		t.Errorf("session after Close: %v, want ErrClosed", err)
	}
}
