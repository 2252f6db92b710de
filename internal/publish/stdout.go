package publish

import (
	"context"
	"io"
	"sync"
)

// Stdout writes each result payload as one JSON line, for `edged run
// --stdout` and for piping into other tools. Sequence numbers count per
// camera as on MQTT.
type Stdout struct {
	mu  sync.Mutex
	w   io.Writer
	enc Encoder
	seq map[string]uint64
}

// NewStdout returns a JSON-lines sink writing to w.
func NewStdout(w io.Writer, device, boot string) *Stdout {
	return &Stdout{w: w, enc: Encoder{Device: device, Boot: boot}, seq: map[string]uint64{}}
}

// Publish writes r as one line.
func (s *Stdout) Publish(_ context.Context, camera string, r *Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq[camera]++
	b := append(s.enc.Encode(camera, s.seq[camera], r), '\n')
	_, err := s.w.Write(b)
	s.enc.buf = b[:0]
	return err
}
