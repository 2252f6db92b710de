package publish

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// StatePayloadVersion is the version of the state and event payloads
// (field "v"), counted apart from the result payload's.
const StatePayloadVersion = 1

// StatePayload is a region's state, published retained on
// <prefix>/<device>/<camera>/<region>/state (docs/payload.md).
type StatePayload struct {
	V      int             `json:"v"`
	Device string          `json:"device"`
	Camera string          `json:"camera"`
	Region string          `json:"region"`
	State  string          `json:"state"`
	Score  float32         `json:"score"`
	Since  *time.Time      `json:"since"` // null while unknown
	TS     time.Time       `json:"ts"`
	Boot   string          `json:"boot"`
	Seq    uint64          `json:"seq"`
	Model  result.ModelRef `json:"model"`
}

// EventPayload is one confirmed change of a region's state, published on
// <prefix>/<device>/<camera>/<region>/event (not retained).
type EventPayload struct {
	V      int    `json:"v"`
	Device string `json:"device"`
	Camera string `json:"camera"`
	Region string `json:"region"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Duration is how long the old state held, in seconds; null when the
	// old state is unknown.
	Duration *float64        `json:"duration_s"`
	Score    float32         `json:"score"`
	TS       time.Time       `json:"ts"`
	Boot     string          `json:"boot"`
	Seq      uint64          `json:"seq"`
	Model    result.ModelRef `json:"model"`
}

// StateTopic is a region's state topic.
func (id Identity) StateTopic(camera, region string) string {
	return id.TopicPrefix + "/" + id.Device + "/" + camera + "/" + region + "/state"
}

// SnapshotTopic is where a region's snapshot (a JPEG) goes at a state
// change.
func (id Identity) SnapshotTopic(camera, region string) string {
	return id.TopicPrefix + "/" + id.Device + "/" + camera + "/" + region + "/snapshot"
}

// EventTopic is a region's event topic.
func (id Identity) EventTopic(camera, region string) string {
	return id.TopicPrefix + "/" + id.Device + "/" + camera + "/" + region + "/event"
}

// StatusTopic is the daemon's availability topic (online/offline,
// retained, with a Last Will).
func (id Identity) StatusTopic() string { return id.TopicPrefix + "/" + id.Device + "/status" }

// EncodeState returns the state payload of c.To.
func (id Identity) EncodeState(c result.StateChange) []byte {
	p := StatePayload{V: StatePayloadVersion, Device: id.Device, Camera: c.Camera, Region: c.Region,
		State: c.To.Label, Score: clamp01(c.To.Score), TS: c.At.UTC(), Boot: id.Boot, Seq: c.To.Seq, Model: c.To.Model}
	if !c.To.Since.IsZero() {
		t := c.To.Since.UTC()
		p.Since = &t
	}
	b, _ := json.Marshal(p)
	return b
}

// EncodeEvent returns the event payload of c.
func (id Identity) EncodeEvent(c result.StateChange) []byte {
	p := EventPayload{V: StatePayloadVersion, Device: id.Device, Camera: c.Camera, Region: c.Region,
		From: c.From.Label, To: c.To.Label, Score: clamp01(c.To.Score), TS: c.At.UTC(), Boot: id.Boot, Seq: c.To.Seq, Model: c.To.Model}
	if !c.From.Since.IsZero() && c.From.Label != result.Unknown {
		d := c.At.Sub(c.From.Since).Seconds()
		p.Duration = &d
	}
	b, _ := json.Marshal(p)
	return b
}

// PublishState writes a region's new state (retained) and, unless it is a
// restored state announced again, its event, to every output: through the
// persistent queue like results, so neither is lost while the broker is
// away. It returns the errors of the outputs that failed.
func (s *Sink) PublishState(ctx context.Context, c result.StateChange) error {
	msgs := []Message{{Camera: c.Camera, Topic: s.id.StateTopic(c.Camera, c.Region), Seq: c.To.Seq,
		Payload: s.id.EncodeState(c), Change: true, Retain: true}}
	if !c.Restored {
		msgs = append(msgs, Message{Camera: c.Camera, Topic: s.id.EventTopic(c.Camera, c.Region), Seq: c.To.Seq,
			Payload: s.id.EncodeEvent(c), Change: true})
	}
	var errs []error
	for _, m := range msgs {
		for _, o := range s.outs {
			if err := o.Write(ctx, m); err != nil && !errors.Is(err, ErrReaderGone) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
