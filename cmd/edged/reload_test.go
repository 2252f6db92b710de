package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// replaceFile writes data beside path and renames it over path, the way a
// deployment replaces a model.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestReload: SIGHUP on a running edged (real binary, real mosquitto, a
// looping video of a real photo). A valid new model file and a new top_k
// switch the published results to the new model's sha with the new number
// of labels, between two frames; a garbage model file and a broken config
// are each rejected with one log line naming the file (and the field) while
// results keep coming from the running model; a change that needs a
// restart is logged as such. systemd hears RELOADING=1 and READY=1 around
// each reload.
func TestReload(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/r/cam/result")
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(repo("models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.tflite")
	replaceFile(t, model, orig)
	cfgPath := filepath.Join(dir, "edged.yaml")
	writeCfg := func(topK int, fps string) {
		replaceFile(t, cfgPath, []byte(fmt.Sprintf(`device: r
http: {addr: "127.0.0.1:0"}
broker: {url: %s}
models:
  - name: m
    path: %s
    top_k: %d
cameras:
  - name: cam
    source: %s
    loop: true
    fps: %s
`, b.URL(), model, topK, video, fps)))
	}
	writeCfg(3, "20")
	sock, notes := notifySocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd, stderr := start(t, ctx, []string{"NOTIFY_SOCKET=" + sock}, "run", "--config", cfgPath)
	next := func(want string) {
		t.Helper()
		for {
			select {
			case m := <-notes:
				if strings.HasPrefix(m, want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s notification:\n%s", want, stderr)
			}
		}
	}
	results := func(n int) []string { // waits for n results in all; returns "sha/labels" of each
		t.Helper()
		msgs := sub.WaitFor(ctx, t, "edged/r/cam/result", 60*time.Second, func(m []mqtttest.Message) bool { return len(m) >= n })
		var out []string
		for _, p := range payloads(t, msgs) {
			if p.Labels[0].Label != "orange" {
				t.Fatalf("top-1 %+v, want orange", p.Labels[0])
			}
			out = append(out, fmt.Sprintf("%s/%d", p.Model.SHA256, len(p.Labels)))
		}
		return out
	}
	hup := func() {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		next("RELOADING=1")
		next("READY=1")
	}
	logged := func(what string, parts ...string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			for _, line := range strings.Split(stderr.String(), "\n") {
				ok := strings.Contains(line, what)
				for _, p := range parts {
					ok = ok && strings.Contains(line, p)
				}
				if ok {
					return
				}
			}
		}
		t.Fatalf("no log line %q with %q:\n%s", what, parts, stderr)
	}

	next("READY=1")
	first := results(5)
	shaA := strings.TrimSuffix(first[0], "/3")
	if len(shaA) != 12 {
		t.Fatalf("first result %q, want the model's sha with 3 labels", first[0])
	}

	// A valid new model (the default one renamed in its metadata: another
	// file, another sha) and top_k 2.
	renamed := bytes.Replace(orig, []byte("EfficientNet-Lite0 ImageNet int8"), []byte("EfficientNet-Lite0 ImageNet INT8"), 1)
	replaceFile(t, model, renamed)
	writeCfg(2, "20")
	hup()
	logged(`"msg":"reload done"`, "model m (")
	n := len(sub.Messages("edged/r/cam/result"))
	got := results(n + 15)
	switched := 0
	for i, s := range got {
		switch {
		case s == shaA+"/3" && switched == 0:
		case strings.HasSuffix(s, "/2") && !strings.HasPrefix(s, shaA):
			switched++
		default:
			t.Fatalf("result %d is %s: mixes models, or the old model after the new one (%v)", i, s, got)
		}
	}
	if switched < 10 {
		t.Fatalf("%d results from the new model: %v", switched, got)
	}
	shaB := strings.TrimSuffix(got[len(got)-1], "/2")
	base := "http://" + httpAddr(t, stderr)
	var health struct {
		Models []struct{ Name, SHA256 string } `json:"models"`
	}
	getJSON(t, base+"/healthz", 200, &health)
	if len(health.Models) != 1 || health.Models[0].SHA256 != shaB {
		t.Errorf("/healthz models %+v, want m with %s", health.Models, shaB)
	}

	// Garbage in the model file: rejected, the running model stays.
	replaceFile(t, model, bytes.Repeat([]byte("not a model "), 1000))
	hup()
	logged(`"msg":"reload rejected; the running configuration and models stay"`, model, "not a TFLite model")
	var rejected struct {
		LastReload struct {
			Applied bool   `json:"applied"`
			Error   string `json:"error"`
		} `json:"last_reload"`
	}
	getJSON(t, base+"/healthz", 200, &rejected)
	if rejected.LastReload.Applied || !strings.Contains(rejected.LastReload.Error, model) {
		t.Errorf("/healthz last_reload after a rejected model: %+v", rejected.LastReload)
	}
	if a, r := scrapeValue(t, base+"/metrics", `edged_reloads_total{result="applied"}`),
		scrapeValue(t, base+"/metrics", `edged_reloads_total{result="rejected"}`); a != 1 || r != 1 {
		t.Errorf("edged_reloads_total applied %v rejected %v, want 1 and 1", a, r)
	}
	n = len(sub.Messages("edged/r/cam/result"))
	for i, s := range results(n + 5)[n:] {
		if s != shaB+"/2" {
			t.Fatalf("result %d after a rejected model: %s, want %s/2", n+i, s, shaB)
		}
	}

	// A broken config: rejected with the file, line and field.
	replaceFile(t, model, renamed)
	writeCfg(2, "lots")
	hup()
	logged(`"msg":"reload rejected; the running configuration and models stay"`, cfgPath+":12: cameras[0].fps")

	// A change that needs a restart is named and not applied; the live
	// change in the same file (top_k) is.
	writeCfg(1, "10")
	hup()
	logged(`"msg":"reload: these changes need a restart of edged and were not applied"`, "cameras[0].fps")
	logged(`"msg":"reload done"`, "camera cam")
	n = len(sub.Messages("edged/r/cam/result"))
	last := results(n + 5)
	if s := last[len(last)-1]; s != shaB+"/1" {
		t.Errorf("after top_k 1: %s, want %s/1", s, shaB)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, stderr)
	}
	if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "SIGSEGV") {
		t.Errorf("crashed:\n%s", s)
	}
}
