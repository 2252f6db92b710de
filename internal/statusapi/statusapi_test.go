package statusapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/result"
)

func TestHealthAndReady(t *testing.T) {
	up := &Broker{Connected: true, Ready: true}
	down := &Broker{Connected: false, Ready: false}
	cams := func(states ...string) map[string]result.Status {
		m := map[string]result.Status{}
		for i, s := range states {
			m[string(rune('a'+i))] = result.Status{State: result.State(s)}
		}
		return m
	}
	for _, c := range []struct {
		name   string
		snap   Snapshot
		health result.Health
		ready  bool
	}{
		{"all streaming", Snapshot{Cameras: cams("streaming", "streaming"), Broker: up}, result.Healthy, true},
		{"a file ended", Snapshot{Cameras: cams("ended", "streaming"), Broker: up}, result.Healthy, true},
		{"no mqtt", Snapshot{Cameras: cams("streaming")}, result.Healthy, true},
		{"opening", Snapshot{Cameras: cams("starting", "streaming"), Broker: up}, result.Degraded, false},
		{"reconnecting", Snapshot{Cameras: cams("reconnecting", "streaming"), Broker: up}, result.Degraded, true},
		{"one failed", Snapshot{Cameras: cams("failed", "streaming"), Broker: up}, result.Degraded, true},
		{"all failed", Snapshot{Cameras: cams("failed", "failed"), Broker: up}, result.Unhealthy, true},
		{"broker away", Snapshot{Cameras: cams("streaming"), Broker: down}, result.Degraded, false},
		{"broker away, queued", Snapshot{Cameras: cams("streaming"), Broker: &Broker{Ready: true}}, result.Degraded, true},
		{"a read stuck", Snapshot{Cameras: cams("streaming"), Broker: up, Stalls: []string{`camera "a": capture stuck for 12s`}}, result.Degraded, true},
	} {
		if h, r := c.snap.Health(), c.snap.Ready(); h != c.health || r != c.ready {
			t.Errorf("%s: health %s ready %v, want %s %v", c.name, h, r, c.health, c.ready)
		}
	}
}

func get(t *testing.T, url string) (int, response) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r response
	b, _ := io.ReadAll(res.Body)
	if strings.HasSuffix(url, "z") {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, b)
		}
	}
	return res.StatusCode, r
}

func TestServer(t *testing.T) {
	snap := Snapshot{Version: "v1", Cameras: map[string]result.Status{"door": {State: "starting"}}, Broker: &Broker{URL: "tcp://127.0.0.1:1883"},
		Engine: Engine{Name: "tflite"}, Models: []Model{{Name: "default", SHA256: "abc"}}}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "edged_up 1\n") })
	s, err := Listen("127.0.0.1:0", metrics, func() Snapshot { return snap }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()

	if code, r := get(t, base+"/readyz"); code != 503 || r.Ready || r.Cameras["door"].State != "starting" || r.Engine.Name != "tflite" {
		t.Errorf("/readyz while starting: %d %+v", code, r)
	}
	if code, r := get(t, base+"/healthz"); code != 200 || r.Status != result.Degraded {
		t.Errorf("/healthz while starting: %d %s, want 200 degraded", code, r.Status)
	}
	snap.Cameras = map[string]result.Status{"door": {State: "streaming"}}
	snap.Broker = &Broker{Connected: true, Ready: true}
	if code, r := get(t, base+"/readyz"); code != 200 || !r.Ready || r.Status != result.Healthy {
		t.Errorf("/readyz when serving: %d %+v", code, r)
	}
	snap.Cameras = map[string]result.Status{"door": {State: "failed", LastError: "open /dev/video0: no such device"}}
	if code, r := get(t, base+"/healthz"); code != 503 || r.Status != result.Unhealthy || r.Cameras["door"].LastError == "" {
		t.Errorf("/healthz with every camera failed: %d %+v", code, r)
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "edged_up 1\n" {
		t.Errorf("/metrics served %q", b)
	}
	// Nothing changes state: other methods are refused.
	res, err = http.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestListenError(t *testing.T) {
	s, err := Listen("127.0.0.1:0", http.NotFoundHandler(), func() Snapshot { return Snapshot{} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Listen(s.Addr().String(), http.NotFoundHandler(), func() Snapshot { return Snapshot{} }, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "http.addr "+s.Addr().String()) {
		t.Fatalf("binding a busy address gave %v, want an error naming http.addr", err)
	}
}
