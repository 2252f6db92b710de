package camera

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/samplevideo"
)

// TestImageSizeFromHeaders: OpenCV writes an image in each format edged
// reads headers of; the header reader finds its size.
func TestImageSizeFromHeaders(t *testing.T) {
	dir := t.TempDir()
	m := gocv.NewMatWithSize(37, 53, gocv.MatTypeCV8UC3) // 53 wide, 37 high
	defer m.Close()
	for _, ext := range []string{".jpg", ".png", ".bmp", ".webp", ".tif"} {
		path := filepath.Join(dir, "img"+ext)
		if !gocv.IMWrite(path, m) {
			t.Fatalf("IMWrite %s failed", ext)
		}
		w, h, ok := imageSize(path)
		if !ok || w != 53 || h != 37 {
			t.Errorf("%s: %dx%d ok=%v, want 53x37", ext, w, h, ok)
		}
	}
	garbage := filepath.Join(dir, "garbage.png")
	os.WriteFile(garbage, []byte("\x89PNG\r\n\x1a\nshort"), 0o644)
	if _, _, ok := imageSize(garbage); ok {
		t.Error("a PNG cut inside its header gave a size")
	}
}

// pngBomb is the header of a PNG claiming w×h pixels followed by nothing
// that could decode: the budget check must not need more than the header.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

// TestFolderSkipsImagesAboveBudget: an image claiming 30000x30000 pixels
// is skipped, from its header, and counted; the folder's other images go
// through.
func TestFolderSkipsImagesAboveBudget(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a-bomb.png"), pngBomb(30000, 30000), 0o644)
	m := gocv.NewMatWithSize(60, 80, gocv.MatTypeCV8UC3)
	gocv.IMWrite(filepath.Join(dir, "b-fine.png"), m)
	m.Close()
	c, err := New(Config{Name: "c", Source: dir, Spec: preprocess.Spec{Width: 32, Height: 32}, MaxPixels: 1_000_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go c.Run(ctx)
	f, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.File != "b-fine.png" {
		t.Errorf("first frame from %s, want b-fine.png (the bomb skipped)", f.File)
	}
	c.Release(f)
	if _, err := c.Next(ctx); err != ErrEndOfInput {
		t.Errorf("after the folder: %v, want the end of input", err)
	}
	if st := c.State(); st.DecodeErrors != 1 {
		t.Errorf("decode errors %d, want 1 (the skipped image)", st.DecodeErrors)
	}
}

func FuzzImageSize(f *testing.F) {
	f.Add(pngBomb(30000, 30000))
	f.Add([]byte("BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x10\x00\x00\x00\xf0\xff\xff\xff"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x02\x00\x00\x01\x03\x00\x01\x00\x00\x00\x10\x00\x00\x00"))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x20})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, ok := imageSizeAt(bytes.NewReader(data), int64(len(data)))
		if ok && (w <= 0 || h <= 0 || w > 1<<30 || h > 1<<30) {
			t.Fatalf("size %dx%d accepted", w, h)
		}
		_ = image.Pt(w, h)
	})
}

// TestVideoFramesAboveBudgetSkipped: frames from a video or stream larger
// than the pixel budget are dropped and counted, never resized.
func TestVideoFramesAboveBudgetSkipped(t *testing.T) {
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, photos(t, "orange.jpg"), samplevideo.Options{Width: 64, Height: 48, FPS: 10, FramesPerPhoto: 4}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Name: "f", Source: video, Spec: spec(), MaxPixels: 64*48 - 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, c, 100, 0); len(got) != 0 {
		t.Errorf("%d frames above the budget delivered, want none", len(got))
	}
	if s := c.State(); s.DecodeErrors != 4 {
		t.Errorf("decode errors %d, want the 4 frames", s.DecodeErrors)
	}
}

// TestFolderReadsRegularFilesOnly: a FIFO named like a photo (whose read
// would block for ever) and hidden files are not read; the photos are.
func TestFolderReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "a.jpg"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	m := gocv.NewMatWithSize(60, 80, gocv.MatTypeCV8UC3)
	gocv.IMWrite(filepath.Join(dir, "b.jpg"), m)
	gocv.IMWrite(filepath.Join(dir, "._b.jpg"), m)
	m.Close()
	c, err := New(Config{Name: "c", Source: dir, Spec: spec()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 10, 0)
	if len(got) != 1 || got[0].File != "b.jpg" {
		t.Fatalf("frames %v, want only b.jpg", got)
	}
	// A video file that is a FIFO is refused at open, not read.
	fifo := filepath.Join(dir, "v.mp4")
	syscall.Mkfifo(fifo, 0o644)
	err = newInput(Source{Kind: File, Raw: fifo}, spec(), DefaultMaxPixels, streamOptions{}, nil).Open()
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO video file: %v, want a refusal", err)
	}
}

// TestSourcesThatCannotWorkSayWhy: a device that does not exist, an HTTP
// URL answering 404 or with an HTML page each say so, and a missing file
// is an error naming it.
func TestSourcesThatCannotWorkSayWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<html>login</html>"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		src  Source
		want string
	}{
		{Source{Kind: Device, Raw: "/dev/video99", Index: -1}, "no such device"},
		{Source{Kind: Stream, Raw: srv.URL + "/cam.mjpg"}, "404"},
		{Source{Kind: Stream, Raw: srv.URL + "/page"}, "HTML page"},
	} {
		if _, err := os.Stat("/dev/video99"); err == nil && tc.src.Kind == Device {
			continue
		}
		err := newInput(tc.src, spec(), DefaultMaxPixels, streamOptions{}, nil).Open() // OpenCV fails first, then the reason is asked
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.src.Raw, err, tc.want)
		}
	}
	if _, err := New(Config{Name: "gone", Source: filepath.Join(t.TempDir(), "gone.mp4"), Spec: spec()}, nil); err == nil || !strings.Contains(err.Error(), "gone.mp4") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
}
