package publish

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
)

// Stdout is an Output writing each payload as one JSON line, for `edged
// run --stdout` and for piping into other tools.
type Stdout struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed chan struct{} // closed once the reader went away
}

// NewStdout returns a JSON-lines output writing to w.
func NewStdout(w io.Writer) *Stdout { return &Stdout{w: w, closed: make(chan struct{})} }

// ErrReaderGone is Write's error once the reading end of a pipe was
// closed (`edged run --stdout | head`): nothing more can be written. The
// sink does not count it as a failed publish; the daemon stops on it.
var ErrReaderGone = errors.New("standard output closed by its reader")

// Write writes m's payload and a newline in one write.
func (s *Stdout) Write(_ context.Context, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return ErrReaderGone
	default:
	}
	s.buf = append(append(s.buf[:0], m.Payload...), '\n')
	_, err := s.w.Write(s.buf)
	if errors.Is(err, syscall.EPIPE) {
		close(s.closed)
		return ErrReaderGone
	}
	return err
}

// Closed is closed when the reader of a pipe went away, so that the run
// can end as `head` expects instead of writing into nothing. (The
// process must catch SIGPIPE for the write to fail with EPIPE rather
// than kill it.)
func (s *Stdout) Closed() <-chan struct{} { return s.closed }
