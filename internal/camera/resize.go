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
	shrink(region, &c.resized, image.Pt(out.W, out.H), &c.halves)
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

// shrink resizes src into dst at size. Bilinear, as the models' own
// training pipelines resize, up to a 4× shrink; beyond that bilinear would
// alias badly, and OpenCV's area averaging at a scale that is not a whole
// number costs ten times as much (about 9 ms from 1080p to 224×224 here).
// So a larger source is first halved, by 2×2 averaging (area averaging's
// fast path for an exact half), until it is within 4× of size in both
// directions or one more half would be smaller than size; an odd last
// row or column is left out of a half. What is still more than 4× (a
// strip much longer than its output) is area-averaged. tmp holds the
// halves.
func shrink(src gocv.Mat, dst *gocv.Mat, size image.Point, tmp *[2]gocv.Mat) {
	m, w, h := src, src.Cols(), src.Rows()
	for i := 0; (w > 4*size.X || h > 4*size.Y) && w/2 >= size.X && h/2 >= size.Y; i++ {
		even := m.Region(image.Rect(0, 0, w&^1, h&^1))
		half := &tmp[i%2]
		gocv.Resize(even, half, image.Pt(w/2, h/2), 0, 0, gocv.InterpolationArea)
		even.Close()
		m, w, h = *half, w/2, h/2
	}
	interp := gocv.InterpolationLinear
	if w > 4*size.X || h > 4*size.Y {
		interp = gocv.InterpolationArea
	}
	gocv.Resize(m, dst, size, 0, 0, interp)
}
