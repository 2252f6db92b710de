package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/config"
)

// TestQuickFlagsWithConfigRefused: a quick-mode flag beside --config would
// be ignored (the file decides), so it is an error naming the flag and the
// key to set instead; --log-level and --engine, which override the file,
// stay allowed.
func TestQuickFlagsWithConfigRefused(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "edged.yaml")
	os.WriteFile(cfg, []byte("cameras:\n  - {name: a, source: /nonexistent.mp4}\n"), 0o644)
	for _, tc := range []struct {
		flags []string
		want  []string
	}{
		{[]string{"--broker", "tcp://127.0.0.1:1"}, []string{"--broker", "broker.url"}},
		{[]string{"--fps", "2", "--device", "d"}, []string{"--fps", "cameras[].fps", "--device"}},
		{[]string{"--model", "m.tflite"}, []string{"--model", "models[].path"}},
		{[]string{"--http", "127.0.0.1:0"}, []string{"--http", "http.addr"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"run", "--config", cfg}, tc.flags...), &stdout, &stderr)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", tc.flags, code, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", tc.flags, stderr.String(), w)
			}
		}
	}
}

// TestCheckConfigChecksWhatRunChecks: check-config refuses what run would
// refuse at start (missing or garbage model, labels missing or of the
// wrong length, a missing source file or folder, TLS or password files
// that cannot be read), naming it; a good configuration passes.
func TestCheckConfigChecksWhatRunChecks(t *testing.T) {
	dir := t.TempDir()
	video := filepath.Join(dir, "v.mp4")
	os.WriteFile(video, []byte("not checked beyond existing"), 0o644)
	garbage := filepath.Join(dir, "garbage.tflite")
	os.WriteFile(garbage, []byte("this is not a model"), 0o644)
	two := filepath.Join(dir, "two.txt")
	os.WriteFile(two, []byte("cat\ndog\n"), 0o644)
	model := mustAbs(t, repo("models", "efficientnet_lite0_int8.tflite"))
	base := "models:\n  - {name: m, path: " + model + "%s}\ncameras:\n  - {name: a, source: %s}\n%s"
	for _, tc := range []struct {
		name, model, source, extra, want string
	}{
		{"missing model", "", video, "", "missing.tflite"},
		{"garbage model", "", video, "", "garbage.tflite"},
		{"missing labels", ", labels: " + filepath.Join(dir, "nolabels.txt"), video, "", "nolabels.txt"},
		{"labels of the wrong length", ", labels: " + two, video, "", "2 labels but the model scores 1000"},
		{"missing source file", "", filepath.Join(dir, "gone.mp4"), "", "gone.mp4"},
		{"missing tls ca file", "", video, "broker: {url: ssl://broker.example:8883, tls: {ca_file: " + filepath.Join(dir, "ca.pem") + "}}\n", "ca.pem"},
		{"missing password file", "", video, "broker: {url: tcp://127.0.0.1:1883, username: u, password_file: " + filepath.Join(dir, "pw") + "}\n", "password_file"},
	} {
		body := fmt.Sprintf(base, tc.model, tc.source, tc.extra)
		switch tc.name {
		case "missing model":
			body = strings.Replace(body, model, filepath.Join(dir, "missing.tflite"), 1)
		case "garbage model":
			body = strings.Replace(body, model, garbage, 1)
		}
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(body), 0o644)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"check-config", "--config", path}, &stdout, &stderr); code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s%s", tc.name, code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: %q does not name %q", tc.name, stderr.String(), tc.want)
		}
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(fmt.Sprintf(base, "", video, "")), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "--config", good}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "ok (1 models, 1 cameras)") {
		t.Errorf("good config: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
}

// TestHelpAndFlagOrder: --help of each command prints its flags on
// standard output and exits 0; flags may follow the file (`model inspect
// FILE --json`).
func TestHelpAndFlagOrder(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"check-config", "--help"}, {"model", "inspect", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "usage of") || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want the usage on stdout and exit 0", args, code, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"model", "inspect", repo("models", "efficientnet_lite0_int8.tflite"), "--json"}, &stdout, &stderr); code != 0 ||
		!strings.HasPrefix(strings.TrimSpace(stdout.String()), "{") {
		t.Errorf("model inspect FILE --json: exit %d, stdout %.80q, stderr %q; want JSON", code, stdout.String(), stderr.String())
	}
}

// TestLogDurationsAsText: durations read "1.5s" in the logs, not
// 1500000000 nanoseconds.
func TestLogDurationsAsText(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(config.Log{Level: "info", Format: "json"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("reopening source", "in", 1500*time.Millisecond)
	if !strings.Contains(b.String(), `"in":"1.5s"`) {
		t.Errorf("log line %s, want \"in\":\"1.5s\"", b.String())
	}
}
