// Package samplevideo writes short videos made from still photos: the
// bundled demo clip and the clips that integration tests feed to edged.
package samplevideo

import (
	"fmt"
	"image"
	"os"

	"gocv.io/x/gocv"
)

// Options describe the video to write.
type Options struct {
	Width, Height  int     // frame size; each photo is letterboxed into it
	FPS            float64 // frames per second written in the container
	FramesPerPhoto int     // how many frames each photo is held for
}

// Write encodes the photos, in order, into an MJPEG AVI at path.
func Write(path string, photos []string, opt Options) error {
	if opt.Width <= 0 || opt.Height <= 0 || opt.FPS <= 0 || opt.FramesPerPhoto <= 0 {
		return fmt.Errorf("samplevideo: invalid options %+v", opt)
	}
	if len(photos) == 0 {
		return fmt.Errorf("samplevideo: no photos for %s", path)
	}
	w, err := gocv.VideoWriterFile(path, "MJPG", opt.FPS, opt.Width, opt.Height, true)
	if err != nil {
		return fmt.Errorf("samplevideo: open writer %s: %w", path, err)
	}
	defer w.Close()
	frame := gocv.NewMatWithSize(opt.Height, opt.Width, gocv.MatTypeCV8UC3)
	defer frame.Close()
	for _, p := range photos {
		if err := fit(p, &frame); err != nil {
			os.Remove(path)
			return err
		}
		for i := 0; i < opt.FramesPerPhoto; i++ {
			if err := w.Write(frame); err != nil {
				return fmt.Errorf("samplevideo: write %s: %w", path, err)
			}
		}
	}
	return nil
}

// fit letterboxes the photo at path into dst, keeping its aspect ratio.
func fit(path string, dst *gocv.Mat) error {
	img := gocv.IMRead(path, gocv.IMReadColor)
	defer img.Close()
	if img.Empty() {
		return fmt.Errorf("samplevideo: cannot decode photo %s", path)
	}
	W, H := dst.Cols(), dst.Rows()
	scale := min(float64(W)/float64(img.Cols()), float64(H)/float64(img.Rows()))
	w, h := max(1, int(float64(img.Cols())*scale)), max(1, int(float64(img.Rows())*scale))
	dst.SetTo(gocv.NewScalar(0, 0, 0, 0))
	roi := dst.Region(image.Rect((W-w)/2, (H-h)/2, (W-w)/2+w, (H-h)/2+h))
	defer roi.Close()
	gocv.Resize(img, &roi, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	return nil
}
