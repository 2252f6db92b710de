// Package result holds the values every stage of edged shares: a classified
// frame (Result) with its labels, model and latencies, a camera's state and
// status, and the daemon's health. It is a leaf: no cgo, no MQTT, nothing of
// edged's own, so the pipeline, GPIO, the queue, the metrics and the status
// endpoint can all speak it without pulling in each other's dependencies.
package result

import "time"

// Label is one class and its score.
type Label struct {
	Label string  `json:"label"`
	Index int     `json:"index"`
	Score float32 `json:"score"`
}

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
	Region   string    // the camera's region the result is for; "" for the whole frame
	Model    ModelRef
	Labels   []Label // best first
	Latency  Latency
}

// Top is the best label's name, or "" when r has no labels.
func (r *Result) Top() string {
	if len(r.Labels) == 0 {
		return ""
	}
	return r.Labels[0].Label
}

// State is a camera's condition, named as /healthz and the metrics spell
// it. The zero value is not a state; a new camera starts in Starting.
type State string

// The camera states.
const (
	Starting     State = "starting"     // opening the source for the first time
	Streaming    State = "streaming"    // delivering frames
	Reconnecting State = "reconnecting" // the source failed or ended and is being reopened
	Ended        State = "ended"        // a file or folder that does not loop reached its end
	Failed       State = "failed"       // frames arrive but none can be used (ROI outside every frame)
)

// States lists every state, in order.
var States = []State{Starting, Streaming, Reconnecting, Ended, Failed}

// Status is a snapshot of one camera: its state and capture counters.
type Status struct {
	State        State     `json:"state"`
	Kind         string    `json:"kind"`
	LastError    string    `json:"last_error,omitempty"`
	Since        time.Time `json:"since"`
	Captured     uint64    `json:"captured"`
	Dropped      uint64    `json:"dropped"` // frames replaced by newer ones before inference
	Skipped      uint64    `json:"skipped"` // frames skipped by the rate cap
	Reconnects   uint64    `json:"reconnects"`
	DecodeErrors uint64    `json:"decode_errors"`
	// Decode is a network stream's decode mode: "all" or "keyframes"
	// (with decode: auto, what was chosen); KeyframeInterval the time
	// between its key frames in seconds, where measured.
	Decode string `json:"decode,omitempty"`
	// Decoder is the OpenCV backend a network stream is decoded through:
	// "gstreamer" or "ffmpeg".
	Decoder string `json:"decoder,omitempty"`
	// Width and Height are the size of the frames as they are decoded
	// (after any scaling inside a GStreamer pipeline), once one came.
	Width            int     `json:"frame_width,omitempty"`
	Height           int     `json:"frame_height,omitempty"`
	KeyframeInterval float64 `json:"keyframe_interval_s,omitempty"`
}

// Health is the daemon's overall condition, as /healthz and the status LED
// report it.
type Health string

// The health levels, best first.
const (
	Healthy   Health = "healthy"  // every camera streaming (or done), results deliverable
	Degraded  Health = "degraded" // running, but a camera is reconnecting or the broker is away
	Unhealthy Health = "failed"   // no camera can produce results
)

// Grade rates cameras and the delivery of results: Unhealthy when no camera
// is working or can recover, Degraded when a camera is not streaming or
// results cannot be delivered now, Healthy otherwise. A camera whose file
// or folder has ended is done, not unhealthy.
func Grade(cameras []State, deliverable bool) Health {
	working, degraded := 0, !deliverable
	for _, s := range cameras {
		switch s {
		case Streaming, Ended:
			working++
		case Failed:
			degraded = true
		default: // starting, reconnecting: may recover
			working++
			degraded = true
		}
	}
	if len(cameras) > 0 && working == 0 {
		return Unhealthy
	}
	if degraded {
		return Degraded
	}
	return Healthy
}

// Unknown is a region's state before its first confirmed label.
const Unknown = "unknown"

// RegionState is a region's confirmed state: the label that held.
type RegionState struct {
	Label string    // Unknown before the first confirmed label
	Score float32   // the confirming result's top score
	Since time.Time // when the state began (the confirming frame's capture time)
	Seq   uint64    // the region's confirmed changes, from 1, across restarts
	Model ModelRef  // the model that confirmed it
}

// StateChange is a region's confirmed change of state, or (Restored) the
// state a region resumes with after a restart, announced again.
type StateChange struct {
	Camera, Region string
	From, To       RegionState
	At             time.Time // the frame that confirmed it (Restored: the start)
	Restored       bool
}
