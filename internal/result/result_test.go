package result

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestGrade(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cameras     []State
		deliverable bool
		want        Health
	}{
		{"all streaming", []State{Streaming, Streaming}, true, Healthy},
		{"a file ended", []State{Ended, Streaming}, true, Healthy},
		{"no cameras", nil, true, Healthy},
		{"opening", []State{Starting, Streaming}, true, Degraded},
		{"reconnecting", []State{Reconnecting}, true, Degraded},
		{"one failed", []State{Failed, Streaming}, true, Degraded},
		{"all failed", []State{Failed, Failed}, true, Unhealthy},
		{"all failed, broker away", []State{Failed}, false, Unhealthy},
		{"broker away", []State{Streaming}, false, Degraded},
	} {
		if got := Grade(tc.cameras, tc.deliverable); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestStatusJSON: states and health read as the words /healthz has always
// used.
func TestStatusJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		Status Health `json:"status"`
		Camera Status `json:"camera"`
	}{Unhealthy, Status{State: Reconnecting, Kind: "stream", Since: time.Unix(0, 0).UTC()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status":"failed"`, `"state":"reconnecting"`, `"kind":"stream"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

// TestLeaf: the shared types pull in nothing of edged's, no cgo and no
// MQTT; and the stages that speak them (GPIO, the queue, the pipeline, the
// status endpoint, the encoder) link neither paho nor the mochi broker.
func TestLeaf(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	list := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	for _, d := range list("-deps", ".") {
		if strings.Contains(d, ".") && !strings.HasPrefix(d, "vendor/") && d != "github.com/edged-io/edged/internal/result" {
			t.Errorf("internal/result depends on %s", d)
		}
	}
	if cgo := list("-f", "{{.CgoFiles}}", "."); strings.Join(cgo, "") != "[]" {
		t.Errorf("internal/result has cgo files %v", cgo)
	}
	for _, pkg := range []string{"../gpio", "../outbox", "../pipeline", "../statusapi", "../publish", "../metrics", "../decide", "../config"} {
		for _, d := range list("-deps", pkg) {
			if strings.Contains(d, "paho.mqtt") || strings.Contains(d, "mochi-mqtt") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
