package camera

import (
	"bytes"
	"errors"
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// maxImageBytes bounds an encoded image given to DecodeResized.
const maxImageBytes = 32 << 20

// MaxDecodePixels bounds an image given to DecodeResized: 4096×4096.
const MaxDecodePixels = 4096 * 4096

// DecodeResized decodes an encoded image (JPEG, PNG and the other formats
// OpenCV reads) and stretches it to w×h, returning its BGR bytes. A
// deployment's canary images go through it. An image whose header says it
// holds more than MaxDecodePixels, or whose size the header does not give,
// is refused before it is decoded.
func DecodeResized(data []byte, w, h int) ([]byte, error) {
	if len(data) == 0 {
		return nil, errors.New("empty image")
	}
	if len(data) > maxImageBytes {
		return nil, fmt.Errorf("image of %d bytes: larger than %d", len(data), maxImageBytes)
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("target size %dx%d", w, h)
	}
	// The header gives the size before OpenCV allocates for it.
	iw, ih, ok := imageSizeAt(bytes.NewReader(data), int64(len(data)))
	switch {
	case !ok:
		return nil, errors.New("not a JPEG, PNG, BMP, WebP or TIFF image with a readable size")
	case int64(iw)*int64(ih) > MaxDecodePixels:
		return nil, fmt.Errorf("image of %dx%d pixels: more than %d", iw, ih, MaxDecodePixels)
	}
	m, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	defer m.Close()
	if m.Empty() {
		return nil, errors.New("not an image OpenCV can decode")
	}
	out := gocv.NewMat()
	defer out.Close()
	gocv.Resize(m, &out, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	return out.ToBytes(), nil
}
