package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/samplevideo"
)

// Samples kept on a real edged are listed, labelled and discarded through
// the HTTP API with the token, never without it or from another site, never
// outside the samples folder; the labelled ones come back as an ImageFolder
// tar.
func TestSamplesLabelling(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged")
	}
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg"), photo(t, "space_shuttle.jpg")},
		samplevideo.Options{Width: 320, Height: 240, FPS: 10, FramesPerPhoto: 10}); err != nil {
		t.Fatal(err)
	}
	const token = "0123456789abcdef0123"
	writeText(t, filepath.Join(dir, "token"), token+"\n")
	cfg := filepath.Join(dir, "edged.yaml")
	writeText(t, cfg, fmt.Sprintf(`state_dir: %s
http: {addr: "127.0.0.1:0", token_file: token}
cameras:
  - {name: door, source: %s, fps: 5, loop: true, samples: {when: [interval], interval: 100ms, frame: true}}
`, filepath.Join(dir, "state"), video))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg, "--no-mqtt")
	base := "http://" + httpAddr(t, log)

	type item struct {
		ID     string `json:"id"`
		Labels []struct {
			Label string `json:"label"`
		} `json:"labels"`
	}
	var items []item
	for deadline := time.Now().Add(20 * time.Second); len(items) < 4; time.Sleep(200 * time.Millisecond) {
		getJSON(t, base+"/api/samples", 200, &items)
		if time.Now().After(deadline) {
			t.Fatalf("%d samples after 20 s", len(items))
		}
	}
	// frame: true keeps the whole frame beside each crop.
	frames, _ := filepath.Glob(filepath.Join(dir, "state", "samples", "door", "*.frame.jpg"))
	crops, _ := filepath.Glob(filepath.Join(dir, "state", "samples", "door", "*Z-??????.jpg"))
	if len(frames) < len(crops)/2 || len(crops) == 0 {
		t.Errorf("%d whole frames kept for %d crops", len(frames), len(crops))
	}
	code, img := get(t, base+"/api/samples/image?id="+items[0].ID)
	if code != 200 || !bytes.HasPrefix(img, []byte{0xFF, 0xD8}) {
		t.Fatalf("sample image: %d, %d bytes", code, len(img))
	}
	post := func(path, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	auth := map[string]string{"Authorization": "Bearer " + token}
	label := func(id, class string) string {
		b, _ := json.Marshal(map[string]string{"id": id, "class": class})
		return string(b)
	}
	for _, c := range []struct {
		name string
		body string
		hdr  map[string]string
		want int
	}{
		{"no token", label(items[0].ID, "orange"), nil, 401},
		{"wrong token", label(items[0].ID, "orange"), map[string]string{"Authorization": "Bearer not-the-token-at-all"}, 401},
		{"cross-site", label(items[0].ID, "orange"), map[string]string{"Authorization": "Bearer " + token, "Origin": "http://evil.example"}, 403},
		{"cross-site fetch", label(items[0].ID, "orange"), map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site"}, 403},
		{"hostile id", label("../../../etc/passwd", "x"), auth, 400},
		{"hostile id 2", label("door/../../token", "x"), auth, 400},
		{"hostile class", label(items[0].ID, "../../escape"), auth, 400},
		{"unknown field", `{"id":"x","class":"y","path":"/etc"}`, auth, 400},
		{"labelled", label(items[0].ID, "orange"), auth, 204},
		{"labelled again", label(items[0].ID, "orange"), auth, 404},
		{"second", label(items[1].ID, "space shuttle"), auth, 204},
	} {
		if code, body := post("/api/samples/label", c.body, c.hdr); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
	if code, body := post("/api/samples/discard", fmt.Sprintf(`{"id":%q}`, items[2].ID), auth); code != 204 {
		t.Errorf("discard: %d %s", code, body)
	}
	if code, _ := get(t, base+"/api/samples/image?id=../token"); code != 400 {
		t.Errorf("a hostile image id: %d", code)
	}
	code, tarball := get(t, base+"/api/dataset.tar")
	if code != 200 {
		t.Fatalf("dataset.tar: %d", code)
	}
	tr := tar.NewReader(bytes.NewReader(tarball))
	classes := map[string]int{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cls, _, _ := strings.Cut(h.Name, "/")
		classes[cls]++
	}
	if classes["orange"] != 1 || classes["space shuttle"] != 1 || len(classes) != 2 {
		t.Errorf("dataset.tar classes %v", classes)
	}
	stopEdged(t, cmd, log)
}
