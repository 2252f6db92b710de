package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/edged-io/edged/internal/result"
)

// Message is one encoded result as every output takes it: the persistent
// queue stores it without looking inside, MQTT publishes it, stdout
// prints it.
type Message struct {
	Camera string
	Topic  string // <topic_prefix>/<device>/<camera>/result
	Seq    uint64 // per camera, from 1, as in the payload
	// Payload is the JSON payload (docs/payload.md). It is valid until
	// the output's Write returns: an output that keeps it copies it.
	Payload []byte
	// Change: the top label differs from the camera's previous message
	// (a camera's first message is a change). The queue's
	// keep_state_changes policy reads it. A region's results compare
	// with the region's previous one; state messages are changes.
	Change bool
	// Retain: the broker keeps the message for later subscribers (a
	// region's state).
	Retain bool
}

// Output takes encoded messages. Write returns once the message is handed
// on as the output promises (acknowledged by the broker, committed to the
// queue, written to stdout).
type Output interface {
	Write(ctx context.Context, m Message) error
}

// Identity is what every message of one daemon run shares.
type Identity struct {
	Device      string
	Boot        string // NewBootID
	TopicPrefix string // broker.topic_prefix (default "edged")
}

// NewBootID returns a random id for one run of the daemon.
func NewBootID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Topic is the result topic of camera: <prefix>/<device>/<camera>/result.
func (id Identity) Topic(camera string) string {
	return id.TopicPrefix + "/" + id.Device + "/" + camera + "/result"
}

// Sink encodes each result once, numbers it per camera and hands the
// message to every output in turn (the pipeline's sink). Cameras publish
// concurrently; one camera's results are encoded and written in order.
type Sink struct {
	id      Identity
	outs    []Output
	mu      sync.Mutex // cams
	cams    map[string]*camSeq
	encoded atomic.Uint64
}

// camSeq is one camera's sequence, topic, last top labels (per region)
// and encoder.
type camSeq struct {
	mu    sync.Mutex // held while one of the camera's results is written
	topic string
	seq   uint64
	top   map[string]string // by region ("" for the whole frame); absent until its first result
	enc   Encoder
}

// NewSink returns a sink writing to outs, in that order.
func NewSink(id Identity, outs ...Output) *Sink {
	return &Sink{id: id, outs: outs, cams: map[string]*camSeq{}}
}

// Publish encodes r as camera's next message and writes it to every
// output. A result that an output failed to take keeps its sequence
// number, so subscribers see the loss as a gap. It returns the errors of
// the outputs that failed; r is not kept.
func (s *Sink) Publish(ctx context.Context, camera string, r *result.Result) error {
	s.mu.Lock()
	c, ok := s.cams[camera]
	if !ok {
		c = &camSeq{topic: s.id.Topic(camera), top: map[string]string{}, enc: Encoder{Device: s.id.Device, Boot: s.id.Boot}}
		s.cams[camera] = c
	}
	s.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	top := r.Top()
	prev, started := c.top[r.Region]
	m := Message{Camera: camera, Topic: c.topic, Seq: c.seq, Change: !started || top != prev,
		Payload: c.enc.Encode(camera, c.seq, r)}
	c.top[r.Region] = top
	s.encoded.Add(1)
	var errs []error
	for _, o := range s.outs {
		if err := o.Write(ctx, m); err != nil && !errors.Is(err, ErrReaderGone) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Encoded is how many results the sink has encoded: one per result,
// whatever the outputs.
func (s *Sink) Encoded() uint64 { return s.encoded.Load() }

// Identity is what the sink's messages share.
func (s *Sink) Identity() Identity { return s.id }
