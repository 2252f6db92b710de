package camera

import (
	"bytes"
	"os"
	"testing"
)

// jpegStarts returns the offsets of the JPEG start-of-image markers in an
// MJPEG AVI: one per frame.
func jpegStarts(data []byte) []int {
	var out []int
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte{0xff, 0xd8, 0xff})
		if j < 0 {
			return out
		}
		out = append(out, i+j)
		i += j + 3
	}
}

// TestVideoFileCorruptFrameSkipped: a frame whose JPEG headers are destroyed
// does not end the file early; the frames after it are still delivered and
// the file ends normally.
func TestVideoFileCorruptFrameSkipped(t *testing.T) {
	video := makeVideo(t, 64, 48, 4, "orange.jpg", "baboon.jpg", "apple.jpg")
	clean, err := New(Config{Name: "clean", Source: video, Spec: spec()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, clean, 100, 0)
	if len(want) != 12 {
		t.Fatalf("clean video: %d frames, want 12", len(want))
	}

	data, err := os.ReadFile(video)
	if err != nil {
		t.Fatal(err)
	}
	starts := jpegStarts(data)
	if len(starts) != 12 {
		t.Fatalf("found %d JPEG frames in the AVI, want 12", len(starts))
	}
	// Frame 6: wipe its markers and tables (SOI, DQT, SOF, DHT).
	for i := starts[5]; i < starts[5]+400; i++ {
		data[i] = 0
	}
	if err := os.WriteFile(video, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Name: "corrupt", Source: video, Spec: spec()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 100, 0)
	if len(got) != 11 {
		t.Fatalf("%d frames, want the 11 intact ones (state %+v)", len(got), c.State())
	}
	// The frames after the corrupt one are the clean video's frames 7..12.
	for i := 5; i < 11; i++ {
		if !bytes.Equal(got[i].Pixels, want[i+1].Pixels) {
			t.Errorf("frame %d differs from the clean video's frame %d", i+1, i+2)
		}
	}
	if st := c.State(); st.State != "ended" || st.DecodeErrors != 1 || st.Reconnects != 0 {
		t.Errorf("state %+v, want ended with 1 decode error and no reconnect", st)
	}
}
