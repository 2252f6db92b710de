// Package publish turns results into messages: the versioned JSON payload
// (docs/payload.md), encoded once per result by a Sink that numbers each
// camera's results and hands the message to its outputs (the persistent
// queue, MQTT, stdout). It links neither MQTT nor cgo; the MQTT client is
// publish/mqtt and the embedded broker publish/broker.
package publish

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// PayloadVersion is the version of the result payload (field "v").
const PayloadVersion = 1

// Encoder appends result payloads as JSON, reusing its buffer.
type Encoder struct {
	Device string
	Boot   string // random id of this daemon run
	buf    []byte
}

// Encode returns the JSON payload of r for camera with sequence number seq.
// The returned slice is valid until the next call.
func (e *Encoder) Encode(camera string, seq uint64, r *result.Result) []byte {
	b := e.buf[:0]
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, PayloadVersion, 10)
	b = appendStr(append(b, `,"device":`...), e.Device)
	b = appendStr(append(b, `,"camera":`...), camera)
	if r.Region != "" {
		b = appendStr(append(b, `,"region":`...), r.Region)
	}
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
	V       int             `json:"v"`
	Device  string          `json:"device"`
	Camera  string          `json:"camera"`
	Region  string          `json:"region,omitempty"`
	Boot    string          `json:"boot"`
	Seq     uint64          `json:"seq"`
	Frame   uint64          `json:"frame"`
	TS      time.Time       `json:"ts"`
	Model   result.ModelRef `json:"model"`
	Labels  []result.Label  `json:"labels"`
	Latency struct {
		Capture    float64 `json:"capture"`
		Preprocess float64 `json:"preprocess"`
		Infer      float64 `json:"infer"`
		Total      float64 `json:"total"`
	} `json:"latency_ms"`
	File string `json:"file,omitempty"`
}
