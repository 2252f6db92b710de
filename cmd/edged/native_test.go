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
