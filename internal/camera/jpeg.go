package camera

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
)

// jpegSize reads a JPEG file's frame header and returns the image's width
// and height as stored (before any EXIF rotation); ok is false for a file
// that is not a JPEG or whose header cannot be read. Only the markers up to
// the first start-of-frame are read.
func jpegSize(path string) (w, h int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	return jpegSizeFrom(bufio.NewReaderSize(f, 4096))
}

func jpegSizeFrom(r *bufio.Reader) (w, h int, ok bool) {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xFF, 0xD8} {
		return 0, 0, false
	}
	for range 1024 { // markers before the frame header; a sane file has a few
		b, err := r.ReadByte()
		if err != nil {
			return 0, 0, false
		}
		if b != 0xFF {
			return 0, 0, false
		}
		m, err := r.ReadByte()
		for err == nil && m == 0xFF { // fill bytes
			m, err = r.ReadByte()
		}
		if err != nil {
			return 0, 0, false
		}
		switch {
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue // markers without a length
		case m == 0xD9 || m == 0xDA: // end of image or start of scan before any frame header
			return 0, 0, false
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return 0, 0, false
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return 0, 0, false
		}
		// SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			var sof [5]byte // precision, height, width
			if n < len(sof) {
				return 0, 0, false
			}
			if _, err := io.ReadFull(r, sof[:]); err != nil {
				return 0, 0, false
			}
			h, w = int(binary.BigEndian.Uint16(sof[1:3])), int(binary.BigEndian.Uint16(sof[3:5]))
			return w, h, w > 0 && h > 0
		}
		if _, err := r.Discard(n); err != nil {
			return 0, 0, false
		}
	}
	return 0, 0, false
}
