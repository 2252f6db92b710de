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
		var err error
		for i, v := range c.cfg.Views {
			if c.crops[i], c.dsts[i], err = v.Plan(size.X, size.Y); err != nil {
				break
			}
		}
		c.plannedFor, c.planErr = size, err
		c.mu.Lock()
		c.status.Width, c.status.Height = size.X, size.Y
		c.mu.Unlock()
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
	}
	if c.planErr != nil {
		return c.planErr
	}
	return nil
}

// resize writes every view's planned crop of c.raw, scaled into its
// output, into f's views.
func (c *Camera) resize(f *Frame) error {
	for i := range c.cfg.Views {
		if err := c.resizeView(i, f.Views[i]); err != nil {
			return err
		}
	}
	return nil
}

// resizeView writes view i's planned crop of c.raw, scaled into its
// output, into dst.
func (c *Camera) resizeView(i int, dst []byte) error {
	spec, crop, out := c.cfg.Views[i], c.crops[i], c.dsts[i]
	W, H := spec.Width, spec.Height
	region := c.raw.Region(image.Rect(crop.X, crop.Y, crop.X+crop.W, crop.Y+crop.H))
	defer region.Close()
	// Bilinear, as the models' own training pipelines resize; area
	// averaging (several times the CPU) only where bilinear would alias
	// badly, shrinking by more than 4 (1080p to 224 pixels).
	interp := gocv.InterpolationLinear
	if crop.W > 4*out.W {
		interp = gocv.InterpolationArea
	}
	gocv.Resize(region, &c.resized, image.Pt(out.W, out.H), 0, 0, interp)
	m := &c.resized
	if out.W != W || out.H != H {
		pad := spec.PadValue
		gocv.CopyMakeBorder(c.resized, &c.boxed, out.Y, H-out.Y-out.H, out.X, W-out.X-out.W,
			gocv.BorderConstant, color.RGBA{R: pad, G: pad, B: pad})
		m = &c.boxed
	}
	data, err := m.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("resized frame: %w", err)
	}
	if len(data) != len(dst) {
		return fmt.Errorf("resized frame has %d bytes, want %d", len(data), len(dst))
	}
	copy(dst, data)
	return nil
}
