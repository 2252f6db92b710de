package publish

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/edged-io/edged/internal/result"
)

func TestEncodeFields(t *testing.T) {
	captured := time.Date(2026, 11, 28, 23, 20, 22, 195175550, time.FixedZone("CET", 3600))
	r := &result.Result{Frame: 57, Captured: captured, Model: result.ModelRef{Name: "default", SHA256: "2b21f676edcf"},
		Labels:  []result.Label{{Label: "space shuttle", Index: 812, Score: 0.98046875}, {Label: "missile", Index: 657, Score: 0.00390625}},
		Latency: result.Latency{Capture: 1204 * time.Microsecond, Preprocess: 682 * time.Microsecond, Infer: 24340 * time.Microsecond, Total: 27570 * time.Microsecond}}
	e := Encoder{Device: "gate-1", Boot: "6a3519123ceab877"}
	want := `{"v":1,"device":"gate-1","camera":"front","boot":"6a3519123ceab877","seq":42,"frame":57,` +
		`"ts":"2026-11-28T22:20:22.19517555Z","model":{"name":"default","sha256":"2b21f676edcf"},` +
		`"labels":[{"label":"space shuttle","index":812,"score":0.9805},{"label":"missile","index":657,"score":0.0039}],` +
		`"latency_ms":{"capture":1.204,"preprocess":0.682,"infer":24.340,"total":27.570}}`
	if got := string(e.Encode("front", 42, r)); got != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
	r.File = "0001.jpg"
	if got := string(e.Encode("front", 42, r)); !strings.HasSuffix(got, `"total":27.570},"file":"0001.jpg"}`) {
		t.Errorf("payload with a file %s: want it to end with the file name", got)
	}
}

func TestEncodeScoreInRange(t *testing.T) {
	cases := []struct {
		score float32
		want  string
	}{
		{0.5, `"score":0.5000`},
		{1, `"score":1.0000`},
		{1.5, `"score":1.0000`},
		{-0.25, `"score":0.0000`},
		{float32(math.NaN()), `"score":0.0000`},
		{float32(math.Inf(1)), `"score":1.0000`},
		{float32(math.Inf(-1)), `"score":0.0000`},
	}
	e := Encoder{Device: "d", Boot: "b"}
	for _, c := range cases {
		b := e.Encode("c", 1, mkResult(1, result.Label{Label: "x", Score: c.score}))
		if !strings.Contains(string(b), c.want) || !json.Valid(b) {
			t.Errorf("score %v: payload %s, want valid JSON with %s", c.score, b, c.want)
		}
	}
}

// TestEncodeReusesBuffer: after the first payload, encoding one of the
// same size allocates nothing.
func TestEncodeReusesBuffer(t *testing.T) {
	e := Encoder{Device: "d", Boot: "b"}
	r := mkResult(1, result.Label{Label: "tabby", Index: 281, Score: 0.7}, result.Label{Label: "tiger cat", Index: 282, Score: 0.2})
	e.Encode("c", 1, r)
	if n := testing.AllocsPerRun(100, func() { e.Encode("c", 2, r) }); n != 0 {
		t.Errorf("%v allocations per payload, want 0", n)
	}
}

// FuzzEncode: whatever the labels file, device or file name hold, the
// payload is valid JSON that decodes back to the same values.
func FuzzEncode(f *testing.F) {
	f.Add("gate-1", "front", "space shuttle", 812, float32(0.98), uint64(57), "0001.jpg", int64(1795908968195175550))
	f.Add("d", "c", "quote \" back\\slash \x01 tab\t", -1, float32(-3), uint64(0), "", int64(0))
	f.Add("d", "c", "caf\xc3\xa9 \xff\xfe", 0, float32(2), uint64(math.MaxUint64), "\u2028", int64(-1))
	f.Fuzz(func(t *testing.T, device, camera, label string, index int, score float32, frame uint64, file string, ns int64) {
		r := &result.Result{Frame: frame, Captured: time.Unix(0, ns), File: file, Model: result.ModelRef{Name: label, SHA256: "0123456789ab"},
			Labels:  []result.Label{{Label: label, Index: index, Score: score}, {Label: "b", Index: 1, Score: 0.1}},
			Latency: result.Latency{Capture: time.Duration(ns % int64(time.Hour)), Total: time.Duration(frame % uint64(time.Hour))}}
		e := Encoder{Device: device, Boot: "b"}
		b := e.Encode(camera, 7, r)
		var p Payload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("payload %q: %v", b, err)
		}
		if p.V != PayloadVersion || p.Seq != 7 || p.Frame != frame || !p.TS.Equal(r.Captured) || len(p.Labels) != 2 || p.Labels[0].Index != index {
			t.Fatalf("payload %q decoded as %+v", b, p)
		}
		if s := p.Labels[0].Score; !(s >= 0 && s <= 1) {
			t.Fatalf("score %v outside [0,1] in %q", s, b)
		}
		for _, c := range []struct{ got, want string }{{p.Device, device}, {p.Camera, camera}, {p.Labels[0].Label, label}, {p.File, file}} {
			if utf8.ValidString(c.want) && c.got != c.want {
				t.Fatalf("string %q came back as %q in %q", c.want, c.got, b)
			}
		}
	})
}

// jsonPayload is the payload shaped for encoding/json, to compare the
// hand-written encoder against it.
type jsonPayload struct {
	V       int             `json:"v"`
	Device  string          `json:"device"`
	Camera  string          `json:"camera"`
	Boot    string          `json:"boot"`
	Seq     uint64          `json:"seq"`
	Frame   uint64          `json:"frame"`
	TS      string          `json:"ts"`
	Model   result.ModelRef `json:"model"`
	Labels  []result.Label  `json:"labels"`
	Latency struct {
		Capture, Preprocess, Infer, Total float64
	} `json:"latency_ms"`
	File string `json:"file,omitempty"`
}

func benchResult() *result.Result {
	r := mkResult(12345)
	for i := 0; i < 5; i++ {
		r.Labels = append(r.Labels, result.Label{Label: fmt.Sprintf("label number %d", i), Index: 100 + i, Score: 0.1 * float32(5-i)})
	}
	return r
}

// BenchmarkEncode measures the payload encoder with five labels.
func BenchmarkEncode(b *testing.B) {
	e := Encoder{Device: "gate-1", Boot: "6a3519123ceab877"}
	r := benchResult()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Encode("front", uint64(i), r)
	}
}

// BenchmarkEncodeWithEncodingJSON is the same payload through
// encoding/json, for comparison.
func BenchmarkEncodeWithEncodingJSON(b *testing.B) {
	r := benchResult()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := jsonPayload{V: 1, Device: "gate-1", Camera: "front", Boot: "6a3519123ceab877", Seq: uint64(i), Frame: r.Frame,
			TS: r.Captured.UTC().Format(time.RFC3339Nano), Model: r.Model, Labels: r.Labels, File: r.File}
		p.Latency.Capture = float64(r.Latency.Capture) / 1e6
		p.Latency.Preprocess = float64(r.Latency.Preprocess) / 1e6
		p.Latency.Infer = float64(r.Latency.Infer) / 1e6
		p.Latency.Total = float64(r.Latency.Total) / 1e6
		if _, err := json.Marshal(&p); err != nil {
			b.Fatal(err)
		}
	}
}
