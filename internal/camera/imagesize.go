package camera

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"os"
)

// DefaultMaxPixels is a camera's default pixel budget (Config.MaxPixels):
// 100 megapixels, about 300 MB decoded. An image or frame above it is
// skipped and counted, not decoded.
const DefaultMaxPixels = 100_000_000

// imageSize reads an image file's dimensions from its header alone (JPEG,
// PNG, BMP, WebP, TIFF); ok is false when the format is not one of these or
// its header cannot be read, and the decoder then decides.
func imageSize(path string) (w, h int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, false
	}
	return imageSizeAt(f, fi.Size())
}

// imageSizeAt is imageSize on the first size bytes of r.
func imageSizeAt(r io.ReaderAt, size int64) (w, h int, ok bool) {
	var head [32]byte
	n, _ := r.ReadAt(head[:], 0)
	b := head[:n]
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8}):
		return jpegSizeFrom(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 4096))
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) && n >= 24 && string(b[12:16]) == "IHDR":
		return dims(int64(binary.BigEndian.Uint32(b[16:])), int64(binary.BigEndian.Uint32(b[20:])))
	case bytes.HasPrefix(b, []byte("BM")) && n >= 26:
		ww := int64(int32(binary.LittleEndian.Uint32(b[18:])))
		hh := int64(int32(binary.LittleEndian.Uint32(b[22:])))
		if hh < 0 { // top-down rows
			hh = -hh
		}
		return dims(ww, hh)
	case bytes.HasPrefix(b, []byte("RIFF")) && n >= 30 && string(b[8:12]) == "WEBP":
		return webpSize(b)
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return tiffSize(r, size, b[0] == 'I')
	}
	return 0, 0, false
}

// dims accepts positive dimensions that fit an int everywhere.
func dims(w, h int64) (int, int, bool) {
	if w <= 0 || h <= 0 || w > 1<<30 || h > 1<<30 {
		return 0, 0, false
	}
	return int(w), int(h), true
}

// webpSize reads the first chunk of a WebP file: lossy (VP8), lossless
// (VP8L) or extended (VP8X).
func webpSize(b []byte) (int, int, bool) {
	c := b[12:]
	switch string(c[:4]) {
	case "VP8 ": // frame header after a 3-byte frame tag and the 3-byte start code
		if c[11] != 0x9d || c[12] != 0x01 || c[13] != 0x2a {
			return 0, 0, false
		}
		return dims(int64(binary.LittleEndian.Uint16(c[14:])&0x3fff), int64(binary.LittleEndian.Uint16(c[16:])&0x3fff))
	case "VP8L": // signature 0x2f, then 14 bits each of width-1 and height-1
		if c[8] != 0x2f {
			return 0, 0, false
		}
		v := binary.LittleEndian.Uint32(c[9:])
		return dims(int64(v&0x3fff)+1, int64(v>>14&0x3fff)+1)
	case "VP8X": // 24-bit canvas width-1 and height-1 after 4 bytes of flags
		le24 := func(p []byte) int64 { return int64(p[0]) | int64(p[1])<<8 | int64(p[2])<<16 }
		return dims(le24(c[12:])+1, le24(c[15:])+1)
	}
	return 0, 0, false
}

// tiffSize reads ImageWidth (256) and ImageLength (257) from a TIFF file's
// first image file directory.
func tiffSize(r io.ReaderAt, size int64, little bool) (int, int, bool) {
	order := binary.ByteOrder(binary.BigEndian)
	if little {
		order = binary.LittleEndian
	}
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return 0, 0, false
	}
	off := int64(order.Uint32(hdr[4:]))
	var cnt [2]byte
	if off < 8 || off+2 > size {
		return 0, 0, false
	}
	if _, err := r.ReadAt(cnt[:], off); err != nil {
		return 0, 0, false
	}
	n := int64(order.Uint16(cnt[:]))
	if off+2+12*n > size {
		return 0, 0, false
	}
	var w, h int64
	var e [12]byte
	for i := int64(0); i < n && i < 1024; i++ {
		if _, err := r.ReadAt(e[:], off+2+12*i); err != nil {
			return 0, 0, false
		}
		var v int64
		switch order.Uint16(e[2:]) { // field type
		case 3: // SHORT
			v = int64(order.Uint16(e[8:]))
		case 4: // LONG
			v = int64(order.Uint32(e[8:]))
		default:
			continue
		}
		switch order.Uint16(e[:]) {
		case 256:
			w = v
		case 257:
			h = v
		}
	}
	return dims(w, h)
}
