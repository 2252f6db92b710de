package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
