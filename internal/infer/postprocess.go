package infer

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/edged-io/edged/internal/result"
)

// PostConfig configures how a model's score output becomes labels.
type PostConfig struct {
	Labels    []string // class names by index; missing names read as the index number
	TopK      int      // how many labels to report (default 5)
	Threshold float32  // minimum score for a label to be reported
	// Softmax: "auto" applies softmax when the output holds logits rather
	// than probabilities, "on" always, "off" never. For a float output auto
	// looks at each result (probabilities lie in [0,1] and sum to one); for
	// a quantized output it decides once from the quantization parameters:
	// a tensor that can only represent values in [0,1] holds probabilities
	// (TFLite's quantized softmax has scale 1/256), any other holds logits.
	Softmax string
}

// Postprocessor turns one output tensor into top-k labels. It keeps its
// scratch space, so TopK allocates nothing once the destination slice has
// room. It is not safe for concurrent use.
type Postprocessor struct {
	out     TensorInfo
	cfg     PostConfig
	softmax softmaxMode
	scores  []float32
	names   []string
}

// softmaxMode is what TopK does about softmax, settled by NewPostprocessor.
type softmaxMode int

const (
	softmaxNever  softmaxMode = iota
	softmaxAlways             // "on", or a quantized output that holds logits
	softmaxCheck              // "auto" on a float output: look at the scores
)

// NewPostprocessor checks that out is a score vector and prepares scratch.
func NewPostprocessor(out TensorInfo, cfg PostConfig) (*Postprocessor, error) {
	n := out.Elements()
	if n <= 0 {
		return nil, fmt.Errorf("output tensor %q has shape %v: not a score vector", out.Name, out.Shape)
	}
	for i, d := range out.Shape[:max(0, len(out.Shape)-1)] {
		if d != 1 {
			return nil, fmt.Errorf("output tensor %q has shape %v: dimension %d is %d, want a [1,N] score vector", out.Name, out.Shape, i, d)
		}
	}
	switch out.Type {
	case DTypeFloat32, DTypeUint8, DTypeInt8:
	default:
		return nil, fmt.Errorf("output tensor %q has type %s: want float32, uint8 or int8", out.Name, out.Type)
	}
	if (out.Type == DTypeUint8 || out.Type == DTypeInt8) && out.Quant.Scale == 0 {
		return nil, fmt.Errorf("output tensor %q is %s without quantization parameters", out.Name, out.Type)
	}
	if cfg.Softmax == "" {
		cfg.Softmax = "auto"
	}
	if !slices.Contains(SoftmaxModes, cfg.Softmax) {
		return nil, fmt.Errorf("softmax %q: want auto, on or off", cfg.Softmax)
	}
	if cfg.TopK <= 0 {
		cfg.TopK = 5
	}
	cfg.TopK = min(cfg.TopK, n)
	if len(cfg.Labels) > 0 && len(cfg.Labels) != n {
		return nil, fmt.Errorf("%d labels for an output of %d classes", len(cfg.Labels), n)
	}
	p := &Postprocessor{out: out, cfg: cfg, scores: make([]float32, n), names: make([]string, n)}
	switch {
	case cfg.Softmax == "on":
		p.softmax = softmaxAlways
	case cfg.Softmax == "off":
		p.softmax = softmaxNever
	case out.Type == DTypeFloat32:
		p.softmax = softmaxCheck
	case !quantizedProbabilities(out):
		p.softmax = softmaxAlways
	}
	for i := range p.names {
		if i < len(cfg.Labels) {
			p.names[i] = cfg.Labels[i]
		} else {
			p.names[i] = fmt.Sprint(i)
		}
	}
	return p, nil
}

// Classes returns the number of classes the output scores.
func (p *Postprocessor) Classes() int { return len(p.scores) }

// TopK dequantizes raw (the output tensor's bytes), applies softmax where
// configured, and appends up to TopK labels scoring at least the threshold,
// best first, to dst[:0]. Only the first label may score zero.
func (p *Postprocessor) TopK(raw []byte, dst []result.Label) ([]result.Label, error) {
	n := len(p.scores)
	if len(raw) != n*p.out.Type.Size() {
		return dst[:0], fmt.Errorf("output tensor %q: %d bytes, want %d", p.out.Name, len(raw), n*p.out.Type.Size())
	}
	s := p.scores
	switch p.out.Type {
	case DTypeFloat32:
		for i := range s {
			s[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case DTypeUint8:
		sc, zp := p.out.Quant.Scale, p.out.Quant.ZeroPoint
		for i := range s {
			s[i] = sc * float32(int32(raw[i])-zp)
		}
	case DTypeInt8:
		sc, zp := p.out.Quant.Scale, p.out.Quant.ZeroPoint
		for i := range s {
			s[i] = sc * float32(int32(int8(raw[i]))-zp)
		}
	}
	if p.softmax == softmaxAlways || (p.softmax == softmaxCheck && !isDistribution(s)) {
		softmax(s)
	}
	dst = dst[:0]
	for i, v := range s {
		if v < p.cfg.Threshold || math.IsNaN(float64(v)) {
			continue
		}
		if len(dst) == p.cfg.TopK && v <= dst[len(dst)-1].Score {
			continue
		}
		if len(dst) < p.cfg.TopK {
			dst = append(dst, result.Label{})
		}
		// insertion into the sorted, bounded list
		j := len(dst) - 1
		for j > 0 && dst[j-1].Score < v {
			dst[j] = dst[j-1]
			j--
		}
		dst[j] = result.Label{Label: p.names[i], Index: i, Score: v}
	}
	// Rank on the model's own values, then report scores in [0,1]. Labels
	// after the first that would report a score of zero say nothing (a
	// quantized softmax gives hundreds of them): they are left out rather
	// than padding the list.
	for k := range dst {
		dst[k].Score = min(max(dst[k].Score, 0), 1)
		if k > 0 && dst[k].Score == 0 {
			dst = dst[:k]
			break
		}
	}
	return dst, nil
}

// isDistribution reports whether the float scores s already are
// probabilities: every value in [0,1] and a sum of one (within float32
// rounding over a few thousand classes).
func isDistribution(s []float32) bool {
	var sum float64
	for _, v := range s {
		if !(v >= 0 && v <= 1.0001) { // also false for NaN
			return false
		}
		sum += float64(v)
	}
	return math.Abs(sum-1) < 0.02
}

// quantizedProbabilities reports whether every value a quantized uint8 or
// int8 tensor can represent lies in [0,1], as for the output of a quantized
// softmax.
func quantizedProbabilities(t TensorInfo) bool {
	lo, hi := int32(0), int32(255)
	if t.Type == DTypeInt8 {
		lo, hi = -128, 127
	}
	sc, zp := float64(t.Quant.Scale), t.Quant.ZeroPoint
	return sc > 0 && sc*float64(lo-zp) >= -1e-6 && sc*float64(hi-zp) <= 1.0001
}

// softmax replaces s by its softmax, computed stably.
func softmax(s []float32) {
	m := float32(math.Inf(-1))
	for _, v := range s {
		m = max(m, v)
	}
	var sum float64
	for i, v := range s {
		e := math.Exp(float64(v - m))
		s[i] = float32(e)
		sum += e
	}
	for i := range s {
		s[i] = float32(float64(s[i]) / sum)
	}
}
