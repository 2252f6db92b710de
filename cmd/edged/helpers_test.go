package main

// Helpers shared by the tests that run the real edged binary against a
// real mosquitto, the real TFLite runtime and the bundled default model, on
// videos made from real photos.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/testenv"
)

var edgedBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edged-test")
	if err != nil {
		panic(err)
	}
	edgedBin = filepath.Join(dir, "edged")
	out, err := exec.Command("go", "build", "-o", edgedBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build edged: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repo(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func tfliteLib(t *testing.T) string {
	p, err := filepath.Abs(testenv.Library(t, "tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func photo(t *testing.T, name string) string { return testenv.Photo(t, name) }

// edged starts the binary with args; it returns the command and its outputs.
func edged(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, edgedBin, args...)
	model, _ := filepath.Abs(repo("models"))
	// Each run gets its own state directory, so the outbound queue files
	// of parallel tests never meet.
	cmd.Env = append(os.Environ(), "EDGED_MODEL_DIR="+model, "EDGED_TFLITE_LIB="+tfliteLib(t), "STATE_DIRECTORY="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func payloads(t *testing.T, msgs []mqtttest.Message) []publish.Payload {
	t.Helper()
	var out []publish.Payload
	for _, m := range msgs {
		var p publish.Payload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			t.Fatalf("payload on %s is not JSON: %v: %s", m.Topic, err, m.Payload)
		}
		out = append(out, p)
	}
	return out
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// httpAddr waits for the log line naming the HTTP endpoint's address.
func httpAddr(t *testing.T, log *lockedBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`"msg":"serving /metrics, /healthz and /readyz","addr":"([^"]+)"`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("edged never logged its HTTP address:\n%s", log)
	return ""
}

// get fetches url and returns its status code and body.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// getJSON fetches url into v, failing unless the status is wantCode (-1: any).
func getJSON(t *testing.T, url string, wantCode int, v any) {
	t.Helper()
	code, b := get(t, url)
	if wantCode >= 0 && code != wantCode {
		t.Fatalf("GET %s: %d, want %d: %s", url, code, wantCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// scrapeValue reads one sample's value from a Prometheus text exposition.
func scrapeValue(t *testing.T, url, series string) float64 {
	t.Helper()
	_, b := get(t, url)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: value %q", series, v)
			}
			return f
		}
	}
	t.Fatalf("%s not in %s", series, url)
	return 0
}

// startEdged starts the binary with the configuration and returns it, its
// log and its /metrics URL.
func startEdged(t *testing.T, ctx context.Context, cfg string) (*exec.Cmd, *lockedBuffer, string) {
	t.Helper()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg)
	return cmd, log, "http://" + httpAddr(t, log) + "/metrics"
}

// start starts edged with args, env added to its environment and its
// stderr collected; the process is killed when the test ends if it still
// runs.
func start(t *testing.T, ctx context.Context, env []string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd, _, _ := edged(t, ctx, args...)
	cmd.Env = append(cmd.Env, env...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, log
}

// waitMetric polls a metric until cond holds for its value.
func waitMetric(t *testing.T, url, series string, within time.Duration, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := scrapeValue(t, url, series)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %v", series, v, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopEdged ends edged with SIGTERM and expects a clean exit.
func stopEdged(t *testing.T, cmd *exec.Cmd, log *lockedBuffer) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, log)
	}
}

// notifySocket listens where a Type=notify service's systemd would and
// returns the notifications as they come.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return sock, msgs
}

// tail is the end of a long log, for failure messages.
func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// waitCamera polls /healthz until cond holds for the camera, or fails.
func waitCamera(t *testing.T, base, name string, within time.Duration, what string, cond func(state string, reconnects uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var h cameraHealth
		getJSON(t, base+"/healthz", -1, &h)
		c := h.Cameras[name]
		if cond(c.State, c.Reconnects) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera %s not %s after %v: %+v", name, what, within, c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
