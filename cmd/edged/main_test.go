package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// These tests run the real edged binary against a real mosquitto, the real
// TFLite runtime and the bundled default model, on videos made from real
// photos.

// TestQuickModeSpaceShuttle: quick mode, a video made from the space shuttle
// photo and an orange, published to mosquitto and checked by an
// independent subscriber.
func TestQuickModeSpaceShuttle(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	video := filepath.Join(t.TempDir(), "shuttle.avi")
	if err := samplevideo.Write(video, []string{photo(t, "space_shuttle.jpg"), photo(t, "orange.jpg")},
		samplevideo.Options{Width: 320, Height: 320, FPS: 5, FramesPerPhoto: 3}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, _, stderr := edged(t, ctx, "run", "--source", video, "--broker", b.URL(), "--device", "testdev", "--camera", "front", "--top-k", "3")
	if err := cmd.Run(); err != nil {
		t.Fatalf("edged: %v\n%s", err, stderr)
	}
	msgs := sub.WaitFor(ctx, t, "edged/testdev/front/result", 10*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 6 })
	ps := payloads(t, msgs)
	if len(ps) != 6 {
		t.Fatalf("%d results, want one per frame (6)", len(ps))
	}
	for i, p := range ps {
		if p.V != 1 || p.Device != "testdev" || p.Camera != "front" || p.Seq != uint64(i+1) || p.Frame != uint64(i+1) {
			t.Errorf("result %d: %+v", i, p)
		}
		if len(p.Labels) != 3 || p.Labels[0].Score < p.Labels[1].Score || p.Labels[0].Score > 1 || p.Model.Name != "default" || len(p.Model.SHA256) != 12 {
			t.Errorf("result %d labels/model: %+v", i, p)
		}
		if p.TS.IsZero() || p.Latency.Infer <= 0 || p.Latency.Total < p.Latency.Infer {
			t.Errorf("result %d timing: ts %v latency %+v", i, p.TS, p.Latency)
		}
	}
	for i := 0; i < 3; i++ {
		if top := ps[i].Labels[0]; top.Label != "space shuttle" || top.Index != 812 {
			t.Errorf("frame %d: top-1 %+v, want space shuttle (812)", i+1, top)
		}
	}
	if top := ps[4].Labels[0]; top.Label != "orange" {
		t.Errorf("frame 5: top-1 %+v, want orange", top)
	}
	status := sub.Messages("edged/testdev/status")
	if len(status) < 2 || status[0].Payload != "online" || status[len(status)-1].Payload != "offline" {
		t.Errorf("status messages %+v, want online then offline", status)
	}
}

// TestConfigTwoCamerasOneDead: the healthy camera keeps publishing while the
// other points at a stream nobody serves.
func TestConfigTwoCamerasOneDead(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "space_shuttle.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 2}); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("http://127.0.0.1:%d/stream.mjpg", mqtttest.FreePort(t))
	cfg := fmt.Sprintf(`device: gw
http:
  addr: 127.0.0.1:0
broker:
  url: %s
cameras:
  - name: good
    source: %s
    loop: true
    fps: 20
  - name: dead
    source: %s
    reconnect: {initial: 100ms, max: 500ms}
`, b.URL(), video, dead)
	path := filepath.Join(dir, "edged.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, stderr := start(t, ctx, nil, "run", "--config", path)
	sub.WaitFor(ctx, t, "edged/gw/good/result", 30*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 10 })

	// The HTTP endpoint tells the same story: the good camera streams and
	// counts frames, the dead one is reconnecting, the broker is connected.
	base := "http://" + httpAddr(t, stderr)
	var health struct {
		Status  string `json:"status"`
		Ready   bool   `json:"ready"`
		Cameras map[string]struct {
			State      string `json:"state"`
			LastError  string `json:"last_error"`
			Reconnects uint64 `json:"reconnects"`
		} `json:"cameras"`
		Broker struct {
			Connected bool `json:"connected"`
		} `json:"broker"`
		Engine struct {
			Name string `json:"name"`
		} `json:"engine"`
	}
	getJSON(t, base+"/healthz", 200, &health)
	if health.Status != "degraded" || !health.Ready || health.Cameras["good"].State != "streaming" ||
		health.Cameras["dead"].State != "reconnecting" || health.Cameras["dead"].LastError == "" ||
		!health.Broker.Connected || health.Engine.Name == "" {
		t.Errorf("/healthz: %+v", health)
	}
	first := scrapeValue(t, base+"/metrics", `edged_frames_inferred_total{camera="good"}`)
	sub.WaitFor(ctx, t, "edged/gw/good/result", 30*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 20 })
	if again := scrapeValue(t, base+"/metrics", `edged_frames_inferred_total{camera="good"}`); again <= first || first < 10 {
		t.Errorf("edged_frames_inferred_total went %v -> %v, want at least 10 and growing", first, again)
	}
	if r := scrapeValue(t, base+"/metrics", `edged_camera_reconnects_total{camera="dead"}`); r < 1 {
		t.Errorf("edged_camera_reconnects_total for the dead camera = %v", r)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, stderr)
	}
	if n := len(sub.Messages("edged/gw/dead/")); n != 0 {
		t.Errorf("%d results from the dead camera", n)
	}
	if !strings.Contains(stderr.String(), "reopening source") {
		t.Errorf("no reconnect attempts logged for the dead camera:\n%s", stderr)
	}
	st := sub.Messages("edged/gw/status")
	if len(st) == 0 || st[len(st)-1].Payload != "offline" {
		t.Errorf("status %+v, want offline last after SIGTERM", st)
	}
	ps := payloads(t, sub.Messages("edged/gw/good/result"))
	for i, p := range ps {
		if p.Seq != uint64(i+1) {
			t.Fatalf("result %d has seq %d: a gap", i, p.Seq)
		}
	}
}

// TestStreamDiesAndReturns: an MJPEG stream goes down and comes back; edged
// reconnects and publishes again, with consecutive seq numbers.
func TestStreamDiesAndReturns(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	jpeg, err := os.ReadFile(photo(t, "space_shuttle.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	s := mjpegtest.Start(t, jpeg)
	dir := t.TempDir()
	path := filepath.Join(dir, "edged.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf("device: d\nhttp: {addr: \"\"}\nbroker: {url: %s}\ncameras:\n  - name: cam\n    source: %s\n    fps: 10\n    reconnect: {initial: 100ms, max: 400ms}\n", b.URL(), s.URL)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd, _, stderr := edged(t, ctx, "run", "--config", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sub.WaitFor(ctx, t, "edged/d/cam/result", 30*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 3 })
	s.SetDown(true)
	time.Sleep(2 * time.Second)
	before := len(sub.Messages("edged/d/cam/result"))
	s.SetDown(false)
	sub.WaitFor(ctx, t, "edged/d/cam/result", 40*time.Second, func(m []mqtttest.Message) bool { return len(m) >= before+3 })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGINT: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "reopening source") {
		t.Errorf("no reconnect logged:\n%s", stderr)
	}
	for i, p := range payloads(t, sub.Messages("edged/d/cam/result")) {
		if p.Seq != uint64(i+1) || p.Labels[0].Label != "space shuttle" {
			t.Fatalf("result %d: seq %d top-1 %q", i, p.Seq, p.Labels[0].Label)
		}
	}
}

// TestBadModels: a truncated and a random model file give a clear error and
// a non-zero exit, never a crash.
func TestBadModels(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(repo("models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "truncated.tflite")
	os.WriteFile(trunc, good[:len(good)/3], 0o644)
	random := filepath.Join(dir, "random.tflite")
	junk := make([]byte, 100000)
	rand.New(rand.NewSource(1)).Read(junk)
	os.WriteFile(random, junk, 0o644)
	imgs := filepath.Join(dir, "imgs")
	os.Mkdir(imgs, 0o755)
	data, _ := os.ReadFile(photo(t, "orange.jpg"))
	os.WriteFile(filepath.Join(imgs, "a.jpg"), data, 0o644)
	for _, m := range []string{trunc, random} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd, _, stderr := edged(t, ctx, "run", "--source", imgs, "--model", m, "--no-mqtt")
		err := cmd.Run()
		cancel()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: exit %v, want 1\n%s", m, err, stderr)
		}
		if !strings.Contains(stderr.String(), m) || !strings.Contains(stderr.String(), "not a TFLite model") {
			t.Errorf("%s: error does not name the file and the problem:\n%s", m, stderr)
		}
		if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "SIGSEGV") {
			t.Errorf("%s: crashed:\n%s", m, stderr)
		}
	}
}

// TestBadConfigs: each error names the field and line.
func TestBadConfigs(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"cameras:\n  - name: a\n    source: x.mp4\n    fps: lots\n":   "4: cameras[0].fps",
		"cameras:\n  - name: a\n    source: x.mp4\n    colour: red\n": "4: cameras[0].colour: unknown key",
		"broker:\n  qos: 5\ncameras: [{name: a, source: x}]\n":        "2: broker.qos",
	}
	i := 0
	for body, want := range cases {
		i++
		path := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
		os.WriteFile(path, []byte(body), 0o644)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"check-config", "--config", path}, &stdout, &stderr); code != 1 {
			t.Errorf("%q: exit %d, want 1", body, code)
		}
		if !strings.Contains(stderr.String(), path+":"+want) {
			t.Errorf("%q: error %q does not name %q", body, stderr.String(), want)
		}
	}
}

func TestModelInspect(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"model", "inspect", repo("models", "efficientnet_lite0_int8.tflite")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"uint8    [1 224 224 3]", "scale 1 zero point 0", "[1 1000]", "labels: 1000 from metadata", "DEPTHWISE_CONV_2D"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestSystemdNotify: started the way systemd starts a Type=notify service
// with a watchdog, edged says READY=1 once it serves, pings the watchdog
// while frames flow, and says STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	sock, msgs := notifySocket(t)
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 3}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, _, stderr := edged(t, ctx, "run", "--source", video, "--loop", "--fps", "20", "--no-mqtt")
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	next := func(want string) string {
		t.Helper()
		for {
			select {
			case m := <-msgs:
				if strings.HasPrefix(m, want) {
					return m
				}
			case <-ctx.Done():
				t.Fatalf("no %s notification:\n%s", want, stderr)
			}
		}
	}
	if m := next("READY=1"); !strings.Contains(m, "STATUS=1/1 cameras streaming") {
		t.Errorf("READY notification %q lacks the status line", m)
	}
	for range 3 {
		next("WATCHDOG=1")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, stderr)
	}
}
