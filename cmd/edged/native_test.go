package main

import (
	"bufio"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/samplevideo"
)

// TestNativeOutputLogged: what the runtime prints from C (its INFO lines
// at every start) does not reach standard error as raw text: every line
// there is a JSON record, and the runtime's lines appear, as records from
// "native", only with --log-level debug.
func TestNativeOutputLogged(t *testing.T) {
	video := filepath.Join(t.TempDir(), "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 64, Height: 64, FPS: 5, FramesPerPhoto: 2}); err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"info", "debug"} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd, stdout, stderr := edged(t, ctx, "run", "--source", video, "--no-mqtt", "--log-level", level)
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("%s: edged: %v\n%s", level, err, stderr)
		}
		if n := strings.Count(stdout.String(), "\n"); n != 2 {
			t.Errorf("%s: %d results on stdout, want 2", level, n)
		}
		native := 0
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, From string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("%s: a line on stderr is not a JSON record: %q", level, sc.Text())
				continue
			}
			if rec.From == "native" {
				native++
				if level != "debug" {
					t.Errorf("%s: native line %q logged above debug", level, rec.Msg)
				}
			}
		}
		if level == "debug" && native == 0 {
			t.Errorf("debug: no native line logged; stderr:\n%s", stderr)
		}
	}
}

// TestStdoutReaderGoes: `edged run --stdout | head -3`: when the reader of
// standard output goes away, edged stops as on a signal (exit 0, the
// reason logged, no publish errors) instead of dying of SIGPIPE.
func TestStdoutReaderGoes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, _, stderr := edged(t, ctx, "run", "--source", repo("samples", "demo.avi"), "--loop", "--no-mqtt")
	cmd.Stdout = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(out)
	for i := 0; i < 3; i++ {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("result %d: %v\n%s", i+1, err, stderr)
		}
	}
	out.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after its reader went: %v (want exit 0)\n%s", err, stderr)
	}
	log := stderr.String()
	if !strings.Contains(log, `"reason":"standard output closed"`) || strings.Contains(log, "publish failed") {
		t.Errorf("stderr does not say why it stopped, or reports failures:\n%s", log)
	}
}
