package camera

// Cropping and resizing a raw frame into the model's input size.

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/result"
)

// plan works out the crop and output rectangle for c.raw's size, once per
// frame size; a size the spec cannot use fails the camera (reported once).
func (c *Camera) plan() error {
	size := image.Pt(c.raw.Cols(), c.raw.Rows())
	if size != c.plannedFor {
		if !c.plannedFor.Eq(image.Point{}) {
			c.log.Info("frame size changed", "width", size.X, "height", size.Y)
		}
		crop, dst, err := c.cfg.Spec.Plan(size.X, size.Y)
		c.plannedFor, c.planErr = size, err
		if err != nil {
			// Reported once per frame size, not once per frame.
			err = fmt.Errorf("%w: %dx%d frame: %w", errBadPlan, size.X, size.Y, err)
			c.planErr = err
			c.setState(result.Failed, err)
			c.log.Error("frames cannot be used", "err", err)
			return err
		}
		if c.State().State == result.Failed {
			c.setState(result.Streaming, nil)
		}
		c.crop, c.dst = crop, dst
	}
	if c.planErr != nil {
		return c.planErr
	}
	return nil
}

// resize writes the planned crop of c.raw, scaled into the output, into dst.
func (c *Camera) resize(dst []byte) error {
	W, H := c.cfg.Spec.Width, c.cfg.Spec.Height
	region := c.raw.Region(image.Rect(c.crop.X, c.crop.Y, c.crop.X+c.crop.W, c.crop.Y+c.crop.H))
	defer region.Close()
	// Bilinear, as the models' own training pipelines resize; area
	// averaging (several times the CPU) only where bilinear would alias
	// badly, shrinking by more than 4 (1080p to 224 pixels).
	interp := gocv.InterpolationLinear
	if c.crop.W > 4*c.dst.W {
		interp = gocv.InterpolationArea
	}
	gocv.Resize(region, &c.resized, image.Pt(c.dst.W, c.dst.H), 0, 0, interp)
	out := &c.resized
	if c.dst.W != W || c.dst.H != H {
		pad := c.cfg.Spec.PadValue
		gocv.CopyMakeBorder(c.resized, &c.boxed, c.dst.Y, H-c.dst.Y-c.dst.H, c.dst.X, W-c.dst.X-c.dst.W,
			gocv.BorderConstant, color.RGBA{R: pad, G: pad, B: pad})
		out = &c.boxed
	}
	data, err := out.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("resized frame: %w", err)
	}
	if len(data) != len(dst) {
		return fmt.Errorf("resized frame has %d bytes, want %d", len(data), len(dst))
	}
	copy(dst, data)
	return nil
}
