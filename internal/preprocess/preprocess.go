// Package preprocess turns camera pixels into a model's input: the
// geometry of crop and resize (Spec.Plan), and the conversion of a packed
// BGR image into the input tensor's type, written straight into the tensor
// (Converter).
//
// Conversion rule: the model's real input value is (pixel-mean)/std per
// channel; quantized inputs then store q = clamp(round(real/scale + zero
// point)), rounding half away from zero like TFLite's own Quantize
// operator (round(real/scale) + zero point). Without a configured mean/std, edged uses the convention of the
// field ("full range"): uint8 inputs get the raw pixel (mean 0, std 1 for a
// scale-1 tensor; otherwise the pixel range 0..255 mapped onto 0..255),
// int8 inputs get pixel-128, and float32 inputs get (pixel-127.5)/127.5.
// The whole mapping is a 256-entry table per channel built once, so a frame
// costs one pass and no allocation.
package preprocess

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/edged-io/edged/internal/infer"
)

// Rect is a rectangle in pixels.
type Rect struct{ X, Y, W, H int }

// Empty reports whether r has no area.
func (r Rect) Empty() bool { return r.W <= 0 || r.H <= 0 }

// Resize modes.
const (
	Stretch    = "stretch"     // the whole region scaled to the output, aspect not kept
	CenterCrop = "center-crop" // the largest centred part with the output's aspect, scaled
	Letterbox  = "letterbox"   // the whole region scaled to fit, centred, padded
)

// Modes are the resize modes, the values of Spec.Mode (a camera's resize
// in the configuration).
var Modes = []string{Stretch, CenterCrop, Letterbox}

// MaxSide bounds every size and coordinate Plan accepts, far above any
// camera or model, so that its arithmetic cannot overflow.
const MaxSide = 1 << 20

// Coord is one coordinate or size of a Box: pixels, or with Frac a
// fraction of the frame's width or height (a configuration writes 1 for
// one pixel and 1.0 for the whole side).
type Coord struct {
	V    float64
	Frac bool
}

// String writes c as a configuration would.
func (c Coord) String() string {
	if c.Frac {
		s := strconv.FormatFloat(c.V, 'f', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(c.V, 'f', -1, 64)
}

// px resolves c on a side of n pixels.
func (c Coord) px(n int) int {
	if c.Frac {
		return int(math.Round(c.V * float64(n)))
	}
	return int(c.V)
}

// Box is a rectangle whose coordinates may be fractions of the frame, so
// that it keeps its place when a stream's resolution changes.
type Box struct {
	X Coord `yaml:"x"`
	Y Coord `yaml:"y"`
	W Coord `yaml:"w"`
	H Coord `yaml:"h"`
}

// IsZero reports whether b is unset.
func (b Box) IsZero() bool { return b == Box{} }

// String writes b as {x, y, w, h} the way a configuration gives it.
func (b Box) String() string {
	return fmt.Sprintf("{x: %s, y: %s, w: %s, h: %s}", b.X, b.Y, b.W, b.H)
}

// Rect resolves b in a w×h frame. A fractional edge is rounded once, so
// regions that tile the frame in fractions meet without gaps.
func (b Box) Rect(w, h int) Rect {
	x, y := b.X.px(w), b.Y.px(h)
	r := Rect{X: x, Y: y, W: b.W.px(w), H: b.H.px(h)}
	if b.W.Frac && b.X.Frac {
		r.W = int(math.Round((b.X.V+b.W.V)*float64(w))) - x
	}
	if b.H.Frac && b.Y.Frac {
		r.H = int(math.Round((b.Y.V+b.H.V)*float64(h))) - y
	}
	return r
}

// Spec says how a frame becomes a model input image.
type Spec struct {
	// Box, when set, is a region's rectangle: unlike ROI it is resolved
	// against each frame's size and must lie inside the frame (Plan fails
	// naming Field otherwise).
	Box      Box
	Field    string // the configuration field Box came from, for errors
	ROI      Rect   // optional region of interest in source pixels; empty = whole frame
	Mode     string // Stretch (default), CenterCrop or Letterbox
	Width    int    // output size: the model's input width and height
	Height   int
	BGR      bool  // the model wants BGR channel order (default RGB)
	PadValue uint8 // letterbox padding value for every channel
}

// Validate checks the spec on its own.
func (s Spec) Validate() error {
	switch s.Mode {
	case "", Stretch, CenterCrop, Letterbox:
	default:
		return fmt.Errorf("resize %q: want stretch, center-crop or letterbox", s.Mode)
	}
	if s.ROI.X < 0 || s.ROI.Y < 0 || s.ROI.W < 0 || s.ROI.H < 0 {
		return fmt.Errorf("roi %+v: negative values", s.ROI)
	}
	if (s.ROI.W == 0) != (s.ROI.H == 0) {
		return fmt.Errorf("roi %+v: give w and h together (both 0 = whole frame)", s.ROI)
	}
	if max(s.ROI.X, s.ROI.Y, s.ROI.W, s.ROI.H) > MaxSide {
		return fmt.Errorf("roi %+v: values above %d", s.ROI, MaxSide)
	}
	if s.Width <= 0 || s.Height <= 0 || s.Width > MaxSide || s.Height > MaxSide {
		return fmt.Errorf("output size %dx%d: want 1..%d on each side", s.Width, s.Height, MaxSide)
	}
	return nil
}

// Plan returns, for a srcW×srcH frame, the source rectangle to read and the
// destination rectangle inside the Width×Height output that it is scaled
// into (the rest of the output is padding).
func (s Spec) Plan(srcW, srcH int) (crop, dst Rect, err error) {
	if err := s.Validate(); err != nil {
		return crop, dst, err
	}
	if srcW <= 0 || srcH <= 0 || srcW > MaxSide || srcH > MaxSide {
		return crop, dst, fmt.Errorf("frame size %dx%d: want 1..%d on each side", srcW, srcH, MaxSide)
	}
	crop = Rect{0, 0, srcW, srcH}
	if !s.Box.IsZero() {
		r := s.Box.Rect(srcW, srcH)
		if r.Empty() || r.X+r.W > srcW || r.Y+r.H > srcH {
			field := s.Field
			if field == "" {
				field = "region"
			}
			return crop, dst, fmt.Errorf("%s: %s is %dx%d at (%d,%d), which does not fit the %dx%d frame", field, s.Box, r.W, r.H, r.X, r.Y, srcW, srcH)
		}
		crop = r
	} else if !s.ROI.Empty() {
		if s.ROI.X >= srcW || s.ROI.Y >= srcH {
			return crop, dst, fmt.Errorf("roi %+v starts outside the %dx%d frame", s.ROI, srcW, srcH)
		}
		crop = s.ROI
		crop.W = min(crop.W, srcW-crop.X) // clipped to the frame
		crop.H = min(crop.H, srcH-crop.Y)
	}
	dst = Rect{0, 0, s.Width, s.Height}
	switch s.Mode {
	case CenterCrop:
		// Largest centred region of the crop with the output's aspect ratio.
		if crop.W*s.Height > crop.H*s.Width {
			w := max(1, int(math.Round(float64(crop.H)*float64(s.Width)/float64(s.Height))))
			crop.X += (crop.W - w) / 2
			crop.W = w
		} else {
			h := max(1, int(math.Round(float64(crop.W)*float64(s.Height)/float64(s.Width))))
			crop.Y += (crop.H - h) / 2
			crop.H = h
		}
	case Letterbox:
		scale := min(float64(s.Width)/float64(crop.W), float64(s.Height)/float64(crop.H))
		w := min(s.Width, max(1, int(math.Round(float64(crop.W)*scale))))
		h := min(s.Height, max(1, int(math.Round(float64(crop.H)*scale))))
		dst = Rect{(s.Width - w) / 2, (s.Height - h) / 2, w, h}
	}
	return crop, dst, nil
}

// Norm is the per-channel normalisation (pixel-Mean)/Std, in RGB order.
// A zero Norm means "full range" (see the package doc).
type Norm struct {
	Mean [3]float32
	Std  [3]float32
}

// IsZero reports whether no normalisation was configured.
func (n Norm) IsZero() bool { return n == Norm{} }

// Converter writes packed BGR images into an input tensor.
type Converter struct {
	in    infer.TensorInfo
	bgr   bool
	n     int // pixels
	lut8  [3][256]byte
	lutF  [3][256]float32
	float bool
}

// NewConverter prepares the conversion into tensor in ([1,H,W,3] of uint8,
// int8 or float32). norm gives mean/std per RGB channel; bgr is true when
// the model wants BGR order.
func NewConverter(in infer.TensorInfo, norm Norm, bgr bool) (*Converter, error) {
	if len(in.Shape) != 4 || in.Shape[0] != 1 || in.Shape[3] != 3 {
		return nil, fmt.Errorf("input tensor %q has shape %v, want [1,H,W,3]", in.Name, in.Shape)
	}
	c := &Converter{in: in, bgr: bgr, n: in.Shape[1] * in.Shape[2]}
	for ch := 0; ch < 3; ch++ {
		if !norm.IsZero() && norm.Std[ch] == 0 {
			return nil, fmt.Errorf("std[%d] is 0", ch)
		}
	}
	switch in.Type {
	case infer.DTypeFloat32:
		c.float = true
		if norm.IsZero() {
			norm = Norm{Mean: [3]float32{127.5, 127.5, 127.5}, Std: [3]float32{127.5, 127.5, 127.5}}
		}
		for ch := 0; ch < 3; ch++ {
			for p := 0; p < 256; p++ {
				c.lutF[ch][p] = (float32(p) - norm.Mean[ch]) / norm.Std[ch]
			}
		}
	case infer.DTypeUint8, infer.DTypeInt8:
		lo, hi := 0, 255
		if in.Type == infer.DTypeInt8 {
			lo, hi = -128, 127
		}
		scale, zp := float64(in.Quant.Scale), float64(in.Quant.ZeroPoint)
		for ch := 0; ch < 3; ch++ {
			for p := 0; p < 256; p++ {
				var q float64
				switch {
				case norm.IsZero():
					q = float64(p + lo) // full range: 0..255 onto the type's range
				case scale == 0:
					return nil, fmt.Errorf("input tensor %q is %s without quantization parameters, but mean/std are set", in.Name, in.Type)
				default:
					real := (float64(p) - float64(norm.Mean[ch])) / float64(norm.Std[ch])
					q = math.Round(real/scale) + zp
				}
				q = min(max(q, float64(lo)), float64(hi))
				c.lut8[ch][p] = byte(int8(int(q))) // two's complement for int8
				if in.Type == infer.DTypeUint8 {
					c.lut8[ch][p] = byte(int(q))
				}
			}
		}
	default:
		return nil, fmt.Errorf("input tensor %q has type %s: want uint8, int8 or float32", in.Name, in.Type)
	}
	return c, nil
}

// Width and Height of the images Convert takes.
func (c *Converter) Width() int  { return c.in.Shape[2] }
func (c *Converter) Height() int { return c.in.Shape[1] }

// Convert writes the packed H×W×3 BGR image into dst, the input tensor's
// memory, in the tensor's type and channel order.
func (c *Converter) Convert(dst, bgr []byte) error {
	if len(bgr) != c.n*3 {
		return fmt.Errorf("image has %d bytes, want %d (%dx%dx3)", len(bgr), c.n*3, c.Width(), c.Height())
	}
	// The tables are indexed by RGB channel; pixels arrive as B, G, R.
	if c.float {
		if len(dst) != c.n*12 {
			return fmt.Errorf("input buffer has %d bytes, want %d", len(dst), c.n*12)
		}
		l0, l1, l2 := &c.lutF[0], &c.lutF[1], &c.lutF[2] // R, G, B
		s0, s2 := 2, 0                                   // R is byte 2 of a BGR pixel
		if c.bgr {
			l0, l2, s0, s2 = l2, l0, 0, 2
		}
		for i, j := 0, 0; i < len(bgr); i, j = i+3, j+12 {
			s, o := bgr[i:i+3:i+3], dst[j:j+12:j+12]
			binary.LittleEndian.PutUint32(o[0:], math.Float32bits(l0[s[s0]]))
			binary.LittleEndian.PutUint32(o[4:], math.Float32bits(l1[s[1]]))
			binary.LittleEndian.PutUint32(o[8:], math.Float32bits(l2[s[s2]]))
		}
		return nil
	}
	if len(dst) != c.n*3 {
		return fmt.Errorf("input buffer has %d bytes, want %d", len(dst), c.n*3)
	}
	lr, lg, lb := &c.lut8[0], &c.lut8[1], &c.lut8[2]
	dst = dst[:len(bgr)]
	if c.bgr {
		for i := 0; i < len(bgr); i += 3 {
			s, o := bgr[i:i+3:i+3], dst[i:i+3:i+3]
			o[0], o[1], o[2] = lb[s[0]], lg[s[1]], lr[s[2]]
		}
		return nil
	}
	for i := 0; i < len(bgr); i += 3 {
		s, o := bgr[i:i+3:i+3], dst[i:i+3:i+3]
		o[0], o[1], o[2] = lr[s[2]], lg[s[1]], lb[s[0]]
	}
	return nil
}
