package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/mqtttest"
)

// smallJPEG re-encodes a photo at another size, for a stream whose
// resolution changes.
func smallJPEG(t *testing.T, path string, w, h int) []byte {
	t.Helper()
	m := gocv.IMRead(path, gocv.IMReadColor)
	defer m.Close()
	if m.Empty() {
		t.Fatalf("cannot read %s", path)
	}
	r := gocv.NewMat()
	defer r.Close()
	gocv.Resize(m, &r, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	buf, err := gocv.IMEncode(gocv.JPEGFileExt, r)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...)
}

// TestStreamCorruptAndResizedFrames: an MJPEG stream sends broken parts
// between good ones, then switches to another resolution. edged keeps
// publishing (top-1 stays the photo's label), counts what it could not use,
// and neither crashes nor stops. (No fps cap: a live frame is converted,
// and so found broken, only when it is to be used; frames over the cap are
// grabbed and passed over.)
func TestStreamCorruptAndResizedFrames(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	shuttle := photo(t, "space_shuttle.jpg")
	good, err := os.ReadFile(shuttle)
	if err != nil {
		t.Fatal(err)
	}
	// A JPEG header followed by noise, and a good frame cut in half.
	garbage := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), []byte(strings.Repeat("edged!", 2000))...)
	s := mjpegtest.Start(t, good)
	s.SetParts(good, garbage, good, good[:len(good)/2], good)
	dir := t.TempDir()
	path := filepath.Join(dir, "edged.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`device: d
http: {addr: "127.0.0.1:0"}
broker: {url: %s}
cameras:
  - {name: cam, source: %s, fps: 0, reconnect: {initial: 100ms, max: 500ms}}
`, b.URL(), s.URL)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd, stderr := start(t, ctx, nil, "run", "--config", path)
	base := "http://" + httpAddr(t, stderr)
	const topic = "edged/d/cam/result"
	atLeast := func(n int) func([]mqtttest.Message) bool {
		return func(m []mqtttest.Message) bool { return len(m) >= n }
	}
	sub.WaitFor(ctx, t, topic, 40*time.Second, atLeast(10))
	var h cameraHealth
	getJSON(t, base+"/healthz", -1, &h)
	bad := h.Cameras["cam"]
	// Broken parts are skipped and counted; they do not reopen the stream.
	if bad.DecodeErrors == 0 || bad.Reconnects != 0 || bad.State != "streaming" {
		t.Errorf("after broken parts: %+v, want decode errors counted, no reconnect, streaming", bad)
	}

	// The resolution changes to 160x120. (Whether OpenCV's FFmpeg backend
	// hands over frames of the new size or scales them to the first one is
	// its business; the re-planning itself is TestFrameSizeChanges in
	// internal/camera. Here: the stream keeps working.)
	n := len(sub.Messages(topic))
	s.SetParts(smallJPEG(t, shuttle, 160, 120))
	sub.WaitFor(ctx, t, topic, 40*time.Second, atLeast(n+10))
	getJSON(t, base+"/healthz", -1, &h)
	if c := h.Cameras["cam"]; c.State != "streaming" {
		t.Errorf("after the resolution change: %+v, want streaming", c)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, tail(stderr.String()))
	}
	if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "SIGSEGV") {
		t.Fatalf("edged crashed:\n%s", tail(stderr.String()))
	}
	ps := payloads(t, sub.Messages(topic))
	for i, p := range ps {
		if p.Seq != uint64(i+1) || p.Labels[0].Label != "space shuttle" {
			t.Fatalf("result %d: seq %d top-1 %q, want consecutive seq and the space shuttle", i, p.Seq, p.Labels[0].Label)
		}
	}
}

// TestLabelsFileWrongLength: a labels file with fewer lines than the model
// has classes stops edged at start with an error naming the file and both
// counts.
func TestLabelsFileWrongLength(t *testing.T) {
	dir := t.TempDir()
	labels := filepath.Join(dir, "labels.txt")
	os.WriteFile(labels, []byte("cat\ndog\nbird\n"), 0o644)
	imgs := filepath.Join(dir, "imgs")
	os.Mkdir(imgs, 0o755)
	data, _ := os.ReadFile(photo(t, "orange.jpg"))
	os.WriteFile(filepath.Join(imgs, "a.jpg"), data, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, _, stderr := edged(t, ctx, "run", "--source", imgs, "--labels", labels, "--no-mqtt")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, stderr)
	}
	for _, want := range []string{labels, "3 labels", "1000 classes"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("error lacks %q:\n%s", want, stderr)
		}
	}
}
