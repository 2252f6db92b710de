package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// cameraHealth is the part of /healthz these tests read.
type cameraHealth struct {
	Cameras map[string]struct {
		State        string `json:"state"`
		LastError    string `json:"last_error"`
		Reconnects   uint64 `json:"reconnects"`
		DecodeErrors uint64 `json:"decode_errors"`
	} `json:"cameras"`
}

// TestStreamStallsClosesReturns: of two cameras in one daemon, the MJPEG
// stream stalls (connection open, no bytes), then is closed and refused,
// then comes back. The daemon's default FFmpeg read timeout turns the stall
// into a reconnect; the looping video camera publishes through every phase;
// /healthz and /metrics tell what happened.
func TestStreamStallsClosesReturns(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 3}); err != nil {
		t.Fatal(err)
	}
	jpeg, err := os.ReadFile(photo(t, "space_shuttle.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	s := mjpegtest.Start(t, jpeg)
	path := filepath.Join(dir, "edged.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`device: d
http: {addr: "127.0.0.1:0"}
broker: {url: %s}
cameras:
  - {name: video, source: %s, loop: true, fps: 10}
  - {name: stream, source: %s, fps: 10, reconnect: {initial: 100ms, max: 500ms}}
`, b.URL(), video, s.URL)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd, _, _ := edged(t, ctx, "run", "--config", path)
	// The daemon's own FFmpeg options (its read timeout) are under test.
	var env []string
	for _, e := range cmd.Env {
		if !strings.HasPrefix(e, "OPENCV_FFMPEG_CAPTURE_OPTIONS=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://" + httpAddr(t, stderr)
	const videoTopic, streamTopic = "edged/d/video/result", "edged/d/stream/result"
	atLeast := func(n int) func([]mqtttest.Message) bool {
		return func(m []mqtttest.Message) bool { return len(m) >= n }
	}
	sub.WaitFor(ctx, t, streamTopic, 30*time.Second, atLeast(3))
	sub.WaitFor(ctx, t, videoTopic, 30*time.Second, atLeast(3))
	waitCamera(t, base, "stream", 10*time.Second, "streaming", func(st string, _ uint64) bool { return st == "streaming" })

	// Phase 1: stall. Only the read timeout can notice it: the daemon sets
	// 5 s; OpenCV's own 30 s fallback would miss the 15 s allowed here.
	videoBefore := len(sub.Messages(videoTopic))
	s.SetStalled(true)
	waitCamera(t, base, "stream", 15*time.Second, "reconnecting after the stall", func(st string, r uint64) bool { return st == "reconnecting" && r >= 1 })
	var h cameraHealth
	getJSON(t, base+"/healthz", -1, &h)
	if e := h.Cameras["stream"].LastError; !strings.Contains(e, "read failed") && !strings.Contains(e, "open") {
		t.Errorf("last_error after the stall = %q, want the failed read", e)
	}
	videoStalled := len(sub.Messages(videoTopic))
	if videoStalled <= videoBefore {
		t.Errorf("video camera published nothing while the stream stalled (%d -> %d)", videoBefore, videoStalled)
	}

	// Phase 2: closed and refused.
	s.SetDown(true)
	s.SetStalled(false)
	sub.WaitFor(ctx, t, videoTopic, 30*time.Second, atLeast(videoStalled+10))
	streamDown := len(sub.Messages(streamTopic))

	// Phase 3: back.
	s.SetDown(false)
	sub.WaitFor(ctx, t, streamTopic, 40*time.Second, atLeast(streamDown+3))
	waitCamera(t, base, "stream", 10*time.Second, "streaming again", func(st string, _ uint64) bool { return st == "streaming" })
	videoBack := len(sub.Messages(videoTopic))
	sub.WaitFor(ctx, t, videoTopic, 30*time.Second, atLeast(videoBack+3))

	if r := scrapeValue(t, base+"/metrics", `edged_camera_reconnects_total{camera="stream"}`); r < 1 {
		t.Errorf("edged_camera_reconnects_total{camera=\"stream\"} = %v, want >= 1", r)
	}
	if v := scrapeValue(t, base+"/metrics", `edged_camera_state{camera="stream",state="streaming"}`); v != 1 {
		t.Errorf("edged_camera_state streaming = %v after the stream came back", v)
	}
	if r := scrapeValue(t, base+"/metrics", `edged_camera_reconnects_total{camera="video"}`); r != 0 {
		t.Errorf("the video camera reconnected %v times", r)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, tail(stderr.String()))
	}
	for _, topic := range []string{videoTopic, streamTopic} {
		for i, p := range payloads(t, sub.Messages(topic)) {
			if p.Seq != uint64(i+1) {
				t.Fatalf("%s: result %d has seq %d: a gap", topic, i, p.Seq)
			}
		}
	}
}
