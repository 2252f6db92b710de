package modelfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

func defaultModel(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatalf("default model: %v", err)
	}
	return data
}

func TestDefaultModel(t *testing.T) {
	info, err := Parse(defaultModel(t))
	if err != nil {
		t.Fatal(err)
	}
	in, out := info.Inputs[0], info.Outputs[0]
	if in.Type != "uint8" || len(in.Shape) != 4 || in.Shape[1] != 224 || in.Shape[3] != 3 {
		t.Errorf("input %+v, want uint8 [1 224 224 3]", in)
	}
	if len(in.Scale) != 1 || in.Scale[0] != 1 || in.ZeroPoint[0] != 0 {
		t.Errorf("input quantization %v/%v, want scale 1 zero point 0", in.Scale, in.ZeroPoint)
	}
	if out.Type != "uint8" || out.Shape[len(out.Shape)-1] != 1000 {
		t.Errorf("output %+v, want uint8 [1 1000]", out)
	}
	if len(info.Labels) != 1000 || info.Labels[812] != "space shuttle" {
		t.Errorf("labels from metadata: %d, [812]=%q", len(info.Labels), info.Labels[812])
	}
	if info.Ops["CONV_2D"] == 0 || info.Ops["DEPTHWISE_CONV_2D"] == 0 || info.Ops["SOFTMAX"] != 1 {
		t.Errorf("ops %v", info.Ops)
	}
}

// TestTruncated checks that every prefix of a real model is rejected with
// an error rather than a panic or a success.
func TestTruncated(t *testing.T) {
	data := defaultModel(t)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		n := rng.Intn(len(data) / 2)
		if _, err := Parse(data[:n]); err == nil {
			t.Fatalf("a %d-byte prefix was accepted", n)
		} else if !errors.Is(err, ErrNotTFLite) {
			t.Fatalf("prefix %d: error %v does not wrap ErrNotTFLite", n, err)
		}
	}
}

func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(4096))
		rng.Read(b)
		if len(b) >= 8 && i%2 == 0 {
			copy(b[4:], "TFL3")
		}
		if _, err := Parse(b); err == nil {
			t.Fatalf("random file %d accepted", i)
		}
	}
	if _, err := Parse([]byte("hello")); err == nil || !bytes.Contains([]byte(err.Error()), []byte("too short")) {
		t.Errorf("short file: %v", err)
	}
}

// TestCorruptedOffsets flips bytes of a real model; parsing must never
// panic (the recover in Parse would turn a panic into an error, so the
// test also fails on messages that came from a recovered panic).
func TestCorruptedOffsets(t *testing.T) {
	data := defaultModel(t)
	rng := rand.New(rand.NewSource(3))
	head := min(len(data), 64<<10)
	for i := 0; i < 500; i++ {
		c := bytes.Clone(data)
		for k := 0; k < 4; k++ {
			c[rng.Intn(head)] = byte(rng.Intn(256))
		}
		if _, err := Parse(c); err != nil && bytes.Contains([]byte(err.Error()), []byte("malformed flatbuffer (")) {
			t.Fatalf("corruption %d panicked: %v", i, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("\x18\x00\x00\x00TFL3"))
	f.Add(defaultModel(f)[:4096])
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Parse(data)
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("malformed flatbuffer (")) {
			t.Fatalf("panic: %v", err)
		}
		if err == nil && (len(info.Inputs) == 0 || len(info.Outputs) == 0) {
			t.Fatal("accepted a model without inputs or outputs")
		}
		if err == nil {
			// What `edged model inspect` prints must not fail on any accepted file.
			if err := info.WriteText(io.Discard); err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(info); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestTruncatedModelRefused: the default model cut short by a few bytes
// (the issue's `head -c 5237000`) keeps a valid flatbuffer but loses the
// zip archive that holds its labels; it is refused, naming the labels
// file, instead of loading and publishing class numbers.
func TestTruncatedModelRefused(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Root(t), "models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); err != nil {
		t.Fatalf("the whole model: %v", err)
	}
	for _, n := range []int{5237000, len(data) - 1, len(data) - 22, len(data) - 4096} {
		if n >= len(data) {
			continue
		}
		_, err := Parse(data[:n])
		if err == nil || !strings.Contains(err.Error(), `labels file "labels.txt"`) {
			t.Errorf("cut to %d of %d bytes: %v, want an error naming the labels file", n, len(data), err)
		}
	}
}

// TestReadRefusesWhatNeverEnds: a device such as /dev/zero (an endless
// read) or a FIFO is refused at once, not read until memory runs out.
func TestReadRefusesWhatNeverEnds(t *testing.T) {
	if _, _, err := ReadFile("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/zero: %v, want a refusal", err)
	}
}
