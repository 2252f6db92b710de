package camera

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

func TestDecodeResized(t *testing.T) {
	data, err := os.ReadFile(testenv.Photo(t, "orange.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	bgr, err := DecodeResized(data, 32, 24)
	if err != nil {
		t.Fatal(err)
	}
	if len(bgr) != 32*24*3 {
		t.Fatalf("%d bytes, want %d", len(bgr), 32*24*3)
	}
	// A PNG header announcing 100000×100000 pixels is refused undecoded.
	var png bytes.Buffer
	png.WriteString("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	binary.Write(&png, binary.BigEndian, uint32(100000))
	binary.Write(&png, binary.BigEndian, uint32(100000))
	png.WriteString("\x08\x02\x00\x00\x00")
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "empty"},
		"huge":      {png.Bytes(), "more than"},
		"garbage":   {[]byte("not an image at all, just words"), "not a JPEG"},
		"truncated": {data[:200], "decode"},
	} {
		_, err := DecodeResized(c.data, 32, 32)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
}
