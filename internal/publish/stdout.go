package publish

import (
	"context"
	"io"
	"sync"
)

// Stdout is an Output writing each payload as one JSON line, for `edged
// run --stdout` and for piping into other tools.
type Stdout struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewStdout returns a JSON-lines output writing to w.
func NewStdout(w io.Writer) *Stdout { return &Stdout{w: w} }

// Write writes m's payload and a newline in one write.
func (s *Stdout) Write(_ context.Context, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(append(s.buf[:0], m.Payload...), '\n')
	_, err := s.w.Write(s.buf)
	return err
}
