package tfliteengine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
	"github.com/edged-io/edged/internal/testenv"
)

func TestUnsupportedOp(t *testing.T) {
	cases := []struct {
		msg    string
		custom []string
		want   string
	}{
		{"Encountered unresolved custom op: Convolution2DTransposeBias.\nNode number 244 (Convolution2DTransposeBias) failed to prepare.",
			[]string{"Convolution2DTransposeBias"}, "Convolution2DTransposeBias"},
		{"Encountered unresolved custom op: MaxUnpooling2D.", []string{"Convolution2DTransposeBias", "MaxUnpooling2D"}, "MaxUnpooling2D"},
		{"Didn't find op for builtin opcode 'GELU' version '1'. An older version of this builtin might be supported.", nil, "GELU"},
		{"Didn't find op for builtin opcode 'CONV_2D' version '6'.", nil, "CONV_2D"},
		{"tensor 3 has an invalid shape", []string{"Convolution2DTransposeBias"}, ""},
		{"", nil, ""},
	}
	for _, c := range cases {
		if got := unsupportedOp(c.msg, c.custom); got != c.want {
			t.Errorf("unsupportedOp(%q, %v) = %q, want %q", c.msg, c.custom, got, c.want)
		}
	}
}

func TestCandidatesOrder(t *testing.T) {
	t.Setenv("EDGED_TFLITE_LIB", "/opt/custom/libtensorflowlite_c.so")
	c := Candidates()
	if c[0] != "/opt/custom/libtensorflowlite_c.so" {
		t.Errorf("first candidate %q, want $EDGED_TFLITE_LIB", c[0])
	}
	if c[len(c)-1] != LibraryName {
		t.Errorf("last candidate %q, want the bare %s for the system loader", c[len(c)-1], LibraryName)
	}
	at := func(s string) int {
		for i, p := range c {
			if strings.Contains(p, s) {
				return i
			}
		}
		t.Fatalf("no candidate contains %q: %v", s, c)
		return -1
	}
	if !(at(filepath.Join("lib", "edged")) < at("/usr/lib/edged") && at("/usr/lib/edged") < at("third_party")) {
		t.Errorf("candidates %v: want lib/edged by the executable, then /usr/lib/edged, then third_party", c)
	}
}

// TestLoadRejectsBadFiles feeds the engine files that must never reach the
// runtime: each gives an error naming the file.
func TestLoadRejectsBadFiles(t *testing.T) {
	e := openEngine(t)
	good, err := os.ReadFile(filepath.Join(testenv.Root(t), "models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := map[string][]byte{
		"truncated.tflite": good[:len(good)/3],
		"random.tflite":    randomBytes(64 << 10),
		"empty.tflite":     nil,
		"text.tflite":      []byte("this is not a model\n"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := infer.LoadFile(e, path, infer.Options{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, modelfile.ErrNotTFLite) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q: want ErrNotTFLite naming %s", err, path)
			}
		})
	}
	if _, err := infer.LoadFile(e, filepath.Join(dir, "missing.tflite"), infer.Options{}); err == nil || !strings.Contains(err.Error(), "missing.tflite") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := infer.LoadFile(e, filepath.Join(testenv.Root(t), "models", "efficientnet_lite0_int8.tflite"), infer.Options{Accelerate: "gpu"}); err == nil || !strings.Contains(err.Error(), `"gpu"`) {
		t.Errorf("accelerate gpu: %v", err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestLifecycle checks closing in any order: sessions outlive a closed
// model (the runtime keeps reading the model's bytes), Close is safe twice,
// and use after Close is an error rather than a crash.
func TestLifecycle(t *testing.T) {
	m, _ := loadDefault(t, infer.Options{Threads: 1})
	s1, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(); !errors.Is(err, infer.ErrClosed) {
		t.Errorf("NewSession after Close: %v, want ErrClosed", err)
	}
	img := spaceShuttleRGB(t, 224)
	for i, s := range []infer.Session{s1, s2} {
		copy(s.InputBuffer(0), img)
		if err := s.Invoke(); err != nil {
			t.Fatalf("session %d after the model closed: %v", i, err)
		}
	}
	if a, b := s1.OutputBuffer(0), s2.OutputBuffer(0); string(a) != string(b) {
		t.Error("two sessions on the same input disagree")
	}
	for i := 0; i < 2; i++ {
		if err := s1.Close(); err != nil {
			t.Errorf("close %d: %v", i, err)
		}
	}
	if err := s1.Invoke(); !errors.Is(err, infer.ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if b := s1.InputBuffer(0); b != nil {
		t.Errorf("InputBuffer after Close: %d bytes, want nil", len(b))
	}
	if err := s2.Invoke(); err != nil {
		t.Errorf("the other session after its sibling closed: %v", err)
	}
	s2.Close()
	if err := m.Close(); err != nil {
		t.Errorf("second model Close: %v", err)
	}
}

func TestSessionTensors(t *testing.T) {
	m, _ := loadDefault(t, infer.Options{})
	defer m.Close()
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, out := s.Inputs(), s.Outputs()
	if len(in) != 1 || len(out) != 1 {
		t.Fatalf("%d inputs, %d outputs, want 1 and 1", len(in), len(out))
	}
	if in[0].Type != infer.DTypeUint8 || in[0].TypeName != "uint8" || fmt.Sprint(in[0].Shape) != "[1 224 224 3]" || in[0].Bytes != 224*224*3 {
		t.Errorf("input %+v, want uint8 [1 224 224 3] of %d bytes", in[0], 224*224*3)
	}
	if in[0].Quant.Scale == 0 {
		t.Errorf("input quantization %+v, want a scale", in[0].Quant)
	}
	if out[0].Type != infer.DTypeUint8 || out[0].Elements() != 1000 || out[0].Quant.Scale == 0 {
		t.Errorf("output %+v, want quantized uint8 with 1000 elements", out[0])
	}
	if len(s.InputBuffer(0)) != in[0].Bytes || len(s.OutputBuffer(0)) != out[0].Bytes {
		t.Errorf("buffers of %d and %d bytes, want %d and %d", len(s.InputBuffer(0)), len(s.OutputBuffer(0)), in[0].Bytes, out[0].Bytes)
	}
	if s.InputBuffer(1) != nil || s.OutputBuffer(-1) != nil {
		t.Error("buffers of tensors that do not exist")
	}
}

// BenchmarkInvoke measures one invocation of the default int8 model and of
// a float MediaPipe model (hand landmarks, 224x224), with XNNPACK on and
// off, on one and two threads. Its figures chose Accelerate "auto".
func BenchmarkInvoke(b *testing.B) {
	models := []struct{ name, path string }{
		{"int8", filepath.Join(testenv.Root(b), "models", "efficientnet_lite0_int8.tflite")},
		{"float", mediapipe(b, "hand_landmark_lite.tflite")},
	}
	e := openEngine(b)
	for _, md := range models {
		for _, acc := range []string{"on", "off"} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/xnnpack-%s/threads-%d", md.name, acc, threads), func(b *testing.B) {
					m, err := infer.LoadFile(e, md.path, infer.Options{Threads: threads, Accelerate: acc})
					if err != nil {
						b.Fatal(err)
					}
					defer m.Close()
					s, err := m.NewSession()
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					if XNNPACK(s) != (acc == "on") {
						b.Fatalf("XNNPACK applied: %v, asked %s", XNNPACK(s), acc)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := s.Invoke(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
