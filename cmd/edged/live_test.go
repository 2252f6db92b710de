package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/samplevideo"
)

// The live view on a real edged: the page and its assets come from the
// binary, the snapshot of a camera is a JPEG of a recent frame that
// changes from request to request, the overlay draws over it, and /healthz
// carries the figures the page shows.
func TestLiveView(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged")
	}
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg"), photo(t, "space_shuttle.jpg")},
		samplevideo.Options{Width: 640, Height: 360, FPS: 10, FramesPerPhoto: 10}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "edged.yaml")
	writeText(t, cfg, fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
cameras:
  - name: lot
    source: %s
    fps: 5
    loop: true
    regions:
      - {name: spot-1, roi: {x: 0.1, y: 0.1, w: 0.4, h: 0.6}}
`, video))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg, "--no-mqtt")
	base := "http://" + httpAddr(t, log)
	waitCamera(t, base, "lot", 30*time.Second, "streaming", func(s string, _ uint64) bool { return s == "streaming" })

	code, page := get(t, base+"/")
	if code != 200 || !bytes.Contains(page, []byte(`<script src="/static/live.js">`)) {
		t.Fatalf("GET /: %d\n%s", code, page)
	}
	for _, asset := range []string{"/static/live.js", "/static/live.css"} {
		if code, body := get(t, base+asset); code != 200 || len(body) < 100 {
			t.Errorf("GET %s: %d, %d bytes", asset, code, len(body))
		}
	}
	if strings.Contains(string(page), "http://") || strings.Contains(string(page), "https://") {
		t.Error("the page refers to another site")
	}

	snap := func(q string) (uint64, []byte) {
		t.Helper()
		res, err := http.Get(base + "/api/cameras/lot/snapshot.jpg" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("snapshot%s: %d %s: %s", q, res.StatusCode, res.Header.Get("Content-Type"), b.String())
		}
		if _, err := jpeg.Decode(bytes.NewReader(b.Bytes())); err != nil {
			t.Fatalf("snapshot%s: %v", q, err)
		}
		var n uint64
		fmt.Sscan(res.Header.Get("X-Frame"), &n)
		return n, b.Bytes()
	}
	f1, _ := snap("")
	time.Sleep(1500 * time.Millisecond)
	f2, plain := snap("")
	if f2 <= f1 {
		t.Errorf("the snapshot did not move on: frame %d then %d", f1, f2)
	}
	_, drawn := snap("?overlay=1")
	if bytes.Equal(drawn, plain) {
		t.Error("the overlay drew nothing")
	}
	if code, body := get(t, base+"/api/cameras/nope/snapshot.jpg"); code != 404 || !strings.Contains(string(body), `"nope"`) {
		t.Errorf("an unknown camera: %d %s", code, body)
	}
	var h struct {
		Inference map[string]struct {
			Frames  uint64  `json:"frames"`
			InferMS float64 `json:"infer_ms"`
		} `json:"inference"`
	}
	getJSON(t, base+"/healthz", 200, &h)
	if inf := h.Inference["lot"]; inf.Frames == 0 || inf.InferMS <= 0 {
		t.Errorf("/healthz inference: %+v", h.Inference)
	}
	stopEdged(t, cmd, log)
}

// Camera images are private: on a non-loopback address without a token
// they are refused; the status endpoints stay.
func TestLiveViewLoopbackOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged")
	}
	ip := nonLoopbackIP(t)
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--source", video, "--loop", "--no-mqtt", "--http", net.JoinHostPort(ip, "0"))
	base := "http://" + httpAddr(t, log)
	for _, p := range []string{"/api/cameras/cam0/snapshot.jpg", "/api/samples", "/api/dataset.tar"} {
		if code, _ := get(t, base+p); code != http.StatusForbidden {
			t.Errorf("GET %s on %s without a token configured: %d, want 403", p, ip, code)
		}
	}
	if code, _ := get(t, base+"/"); code != 200 {
		t.Errorf("the page (nothing private in it): %d", code)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	cmd.Process.Kill()
}

// nonLoopbackIP is an address of this machine other than loopback, or the
// test is skipped.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
