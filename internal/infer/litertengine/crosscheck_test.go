package litertengine

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/edged-io/edged/internal/infer"
)

// Cross-check tolerance (measured: int8 outputs identical, float outputs
// within 3e-7 relative on this corpus): after dequantization, every output
// value of the LiteRT engine must lie within absTol + relTol*|tflite value| of the TFLite
// engine's, and for quantized outputs within quantSteps quantization steps.
// Both engines run the model with XNNPACK, but different XNNPACK versions
// (TFLite 2.9 vs LiteRT 2.2) may round differently and order sums
// differently.
const (
	absTol     = 1e-4
	relTol     = 1e-4
	quantSteps = 1
)

// TestCrossCheckWithTFLite runs every model of the corpus through both
// engines on the same inputs (seeded random data in each input type's
// natural range) and checks that the outputs agree: the top-1 index of
// every output identical and each value within the tolerance above.
func TestCrossCheckWithTFLite(t *testing.T) {
	le := openEngine(t)
	te := openTFLite(t)
	for _, path := range corpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			opts := infer.Options{Threads: 1}
			tm, err := infer.LoadFile(te, path, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer tm.Close()
			ts, err := tm.NewSession()
			var ue *infer.UnsupportedOpError
			if errors.As(err, &ue) {
				// The selfie segmentation models need a custom op neither
				// engine has: LiteRT must say so as clearly.
				lm, lerr := infer.LoadFile(le, path, opts)
				if lerr == nil {
					lm.Close()
				}
				if !errors.As(lerr, &ue) {
					t.Fatalf("TFLite lacks op %s; LiteRT: %v, want an UnsupportedOpError", ue.Op, lerr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			lm, err := infer.LoadFile(le, path, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer lm.Close()
			ls, err := lm.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer ls.Close()
			checkSameTensors(t, ts, ls)
			rng := rand.New(rand.NewPCG(1, uint64(len(path))))
			for rep := range 3 {
				for i, in := range ts.Inputs() {
					fill(rng, in, ts.InputBuffer(i))
					copy(ls.InputBuffer(i), ts.InputBuffer(i))
				}
				if err := ts.Invoke(); err != nil {
					t.Fatal(err)
				}
				if err := ls.Invoke(); err != nil {
					t.Fatal(err)
				}
				for o, out := range ts.Outputs() {
					a := dequant(out, ts.OutputBuffer(o))
					b := dequant(out, ls.OutputBuffer(o))
					compareOutputs(t, rep, out, a, b)
				}
			}
		})
	}
}

func checkSameTensors(t *testing.T, a, b infer.Session) {
	t.Helper()
	for _, kind := range []struct {
		name   string
		ta, tb []infer.TensorInfo
	}{{"input", a.Inputs(), b.Inputs()}, {"output", a.Outputs(), b.Outputs()}} {
		if len(kind.ta) != len(kind.tb) {
			t.Fatalf("%d %ss in TFLite, %d in LiteRT", len(kind.ta), kind.name, len(kind.tb))
		}
		for i := range kind.ta {
			x, y := kind.ta[i], kind.tb[i]
			if x.Name != y.Name || x.TypeName != y.TypeName || x.Bytes != y.Bytes || x.Quant != y.Quant {
				t.Fatalf("%s %d: TFLite %+v, LiteRT %+v", kind.name, i, x, y)
			}
		}
	}
}

// fill writes seeded random values: all byte values for 8-bit tensors,
// [-1, 1) for float ones.
func fill(rng *rand.Rand, t infer.TensorInfo, buf []byte) {
	switch t.Type {
	case infer.DTypeFloat32:
		for i := 0; i+4 <= len(buf); i += 4 {
			binary.LittleEndian.PutUint32(buf[i:], math.Float32bits(rng.Float32()*2-1))
		}
	default:
		for i := range buf {
			buf[i] = byte(rng.UintN(256))
		}
	}
}

func dequant(t infer.TensorInfo, buf []byte) []float64 {
	n := t.Elements()
	out := make([]float64, n)
	q := func(v float64) float64 {
		if t.Quant.Scale == 0 {
			return v
		}
		return float64(t.Quant.Scale) * (v - float64(t.Quant.ZeroPoint))
	}
	for i := range n {
		switch t.Type {
		case infer.DTypeFloat32:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:])))
		case infer.DTypeUint8:
			out[i] = q(float64(buf[i]))
		case infer.DTypeInt8:
			out[i] = q(float64(int8(buf[i])))
		case infer.DTypeInt32:
			out[i] = q(float64(int32(binary.LittleEndian.Uint32(buf[4*i:]))))
		}
	}
	return out
}

func compareOutputs(t *testing.T, rep int, out infer.TensorInfo, a, b []float64) {
	t.Helper()
	tol := func(v float64) float64 { return absTol + relTol*math.Abs(v) }
	if out.Quant.Scale != 0 {
		tol = func(float64) float64 { return quantSteps * float64(out.Quant.Scale) * 1.0001 }
	}
	worst, at := 0.0, -1
	for i := range a {
		if d := math.Abs(a[i] - b[i]); d > tol(a[i]) && d > worst {
			worst, at = d, i
		}
	}
	if at >= 0 {
		t.Errorf("rep %d output %s: element %d TFLite %g, LiteRT %g (diff %g over tolerance %g)", rep, out.Name, at, a[at], b[at], worst, tol(a[at]))
	}
	if ia, ib := argmax(a), argmax(b); ia != ib && a[ia]-a[ib] > tol(a[ia]) {
		// A tie within the tolerance may break either way.
		t.Errorf("rep %d output %s: top-1 TFLite %d (%g), LiteRT %d (%g)", rep, out.Name, ia, a[ia], ib, b[ib])
	}
}

func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}
