package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
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
	out := startPiped(t, cmd)
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

// TestBrokerAwayAtStart: with the broker down at start, results do not
// wait for the connect timeout (ten minutes here): the first one is out
// at once and queued; with the queue off, SIGINT does not wait for the
// drain either, and the log says why results were not delivered.
func TestBrokerAwayAtStart(t *testing.T) {
	port := mqtttest.FreePort(t) // nobody listens: connections are refused
	for _, queue := range []string{"on", "off"} {
		t.Run("queue "+queue, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "edged.yaml")
			doc := fmt.Sprintf(`broker: {url: "tcp://127.0.0.1:%d", connect_timeout: 10m}
queue: {enabled: %v}
cameras:
  - {name: c, source: %q, loop: true, fps: 5}
`, port, queue == "on", mustAbs(t, repo("samples", "demo.avi")))
			if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd, _, stderr := edged(t, ctx, "run", "--config", cfg, "--stdout")
			out := startPiped(t, cmd)
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || !strings.Contains(line, `"camera":"c"`) {
				t.Fatalf("first result: %q, %v\n%s", line, err, stderr)
			}
			time.Sleep(time.Second) // a few more results wait for the broker
			cmd.Process.Signal(syscall.SIGINT)
			go io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("edged: %v\n%s", err, stderr)
			}
			log := stderr.String()
			if !strings.Contains(log, "connection refused (retrying in the background)") {
				t.Errorf("the log does not give the reason the broker is away:\n%s", log)
			}
			want := "undelivered results stay queued for the next run"
			if queue == "off" {
				want = "results not delivered at shutdown: the broker is not connected"
			}
			if !strings.Contains(log, want) {
				t.Errorf("the log does not say %q:\n%s", want, log)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// startPiped starts cmd with its standard output on a pipe the test reads.
func startPiped(t *testing.T, cmd *exec.Cmd) io.ReadCloser {
	t.Helper()
	cmd.Stdout = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return out
}
