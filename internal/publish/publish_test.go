package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
)

func mkResult(frame uint64, labels ...result.Label) *result.Result {
	return &result.Result{Frame: frame, Captured: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC),
		Model: result.ModelRef{Name: "m", SHA256: "0123456789ab"}, Labels: labels,
		Latency: result.Latency{Capture: time.Millisecond, Preprocess: 2 * time.Millisecond, Infer: 3 * time.Millisecond, Total: 6 * time.Millisecond}}
}

func TestEncodeIsValidJSON(t *testing.T) {
	e := Encoder{Device: "dev", Boot: "b1"}
	r := mkResult(7, result.Label{Label: `quote " and \ tab	é`, Index: 3, Score: 0.5})
	r.File = "a.jpg"
	var p Payload
	if err := json.Unmarshal(e.Encode("cam", 2, r), &p); err != nil {
		t.Fatal(err)
	}
	if p.V != 1 || p.Device != "dev" || p.Camera != "cam" || p.Seq != 2 || p.Frame != 7 || p.Boot != "b1" || p.File != "a.jpg" {
		t.Errorf("payload %+v", p)
	}
	if !p.TS.Equal(r.Captured) || p.Labels[0].Label != r.Labels[0].Label || p.Latency.Total != 6 {
		t.Errorf("payload %+v", p)
	}
	if !strings.Contains(string(e.Encode("cam", 2, r)), `"ts":"2026-11-28T10:00:00.123456789Z"`) {
		t.Errorf("ts not RFC 3339 with nanoseconds: %s", e.Encode("cam", 2, r))
	}
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	s := NewSink(Identity{Device: "dev", Boot: "b", TopicPrefix: "edged"}, NewStdout(&buf))
	s.Publish(context.Background(), "c", mkResult(1))
	s.Publish(context.Background(), "c", mkResult(2))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var p Payload
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &p) != nil || p.Seq != 2 {
		t.Fatalf("stdout lines %q", lines)
	}
}
