// Package publish delivers classification results: the versioned JSON
// payload (docs/payload.md), the per-camera filter that decides which
// results are published, the MQTT publisher (paho), a JSON-lines sink for
// stdout, and the embedded broker edged starts when none is configured.
package publish

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/edged-io/edged/internal/infer"
)

// PayloadVersion is the version of the result payload (field "v").
const PayloadVersion = 1

// ModelRef names the model that produced a result.
type ModelRef struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // first 12 hex digits of the model file's sha256
}

// Latency is the time each stage took for one result.
type Latency struct {
	Capture    time.Duration // reading and decoding the frame
	Preprocess time.Duration // crop, resize and conversion into the input tensor
	Infer      time.Duration // invoke and post-processing
	Total      time.Duration // from the frame's capture to the result
}

// Result is one classified frame, as the pipeline hands it over.
type Result struct {
	Frame    uint64    // source frame number (counts frames dropped before inference)
	Captured time.Time // capture time
	File     string    // image file name, for folder sources
	Model    ModelRef
	Labels   []infer.Label // best first
	Latency  Latency
}

// Encoder appends result payloads as JSON, reusing its buffer.
type Encoder struct {
	Device string
	Boot   string // random id of this daemon run
	buf    []byte
}

// Encode returns the JSON payload of r for camera with sequence number seq.
// The returned slice is valid until the next call.
func (e *Encoder) Encode(camera string, seq uint64, r *Result) []byte {
	b := e.buf[:0]
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, PayloadVersion, 10)
	b = appendStr(append(b, `,"device":`...), e.Device)
	b = appendStr(append(b, `,"camera":`...), camera)
	b = appendStr(append(b, `,"boot":`...), e.Boot)
	b = strconv.AppendUint(append(b, `,"seq":`...), seq, 10)
	b = strconv.AppendUint(append(b, `,"frame":`...), r.Frame, 10)
	b = append(b, `,"ts":"`...)
	b = r.Captured.UTC().AppendFormat(b, time.RFC3339Nano)
	b = appendStr(append(b, `","model":{"name":`...), r.Model.Name)
	b = appendStr(append(b, `,"sha256":`...), r.Model.SHA256)
	b = append(b, `},"labels":[`...)
	for i, l := range r.Labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(append(b, `{"label":`...), l.Label)
		b = strconv.AppendInt(append(b, `,"index":`...), int64(l.Index), 10)
		b = strconv.AppendFloat(append(b, `,"score":`...), float64(clamp01(l.Score)), 'f', 4, 32)
		b = append(b, '}')
	}
	b = append(b, `],"latency_ms":{"capture":`...)
	b = appendMS(b, r.Latency.Capture)
	b = appendMS(append(b, `,"preprocess":`...), r.Latency.Preprocess)
	b = appendMS(append(b, `,"infer":`...), r.Latency.Infer)
	b = appendMS(append(b, `,"total":`...), r.Latency.Total)
	b = append(b, '}')
	if r.File != "" {
		b = appendStr(append(b, `,"file":`...), r.File)
	}
	b = append(b, '}')
	e.buf = b
	return b
}

// clamp01 keeps a score inside [0,1] as the payload promises; NaN (a model
// gone wrong) becomes 0, since JSON has no NaN.
func clamp01(s float32) float32 {
	switch {
	case s > 1:
		return 1
	case s >= 0:
		return s
	default: // negative or NaN
		return 0
	}
}

func appendMS(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// appendStr appends s as a JSON string.
func appendStr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s) // rare: let encoding/json escape it
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Payload is the decoded form of a result payload, for subscribers and tests.
type Payload struct {
	V       int           `json:"v"`
	Device  string        `json:"device"`
	Camera  string        `json:"camera"`
	Boot    string        `json:"boot"`
	Seq     uint64        `json:"seq"`
	Frame   uint64        `json:"frame"`
	TS      time.Time     `json:"ts"`
	Model   ModelRef      `json:"model"`
	Labels  []infer.Label `json:"labels"`
	Latency struct {
		Capture    float64 `json:"capture"`
		Preprocess float64 `json:"preprocess"`
		Infer      float64 `json:"infer"`
		Total      float64 `json:"total"`
	} `json:"latency_ms"`
	File string `json:"file,omitempty"`
}
