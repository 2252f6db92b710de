// Package mjpegtest serves an HTTP multipart MJPEG stream on a loopback
// port for tests, and can take it down, stall it, bring it back, and change
// what it sends (other images, broken parts).
package mjpegtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server streams its parts over and over as multipart/x-mixed-replace.
type Server struct {
	URL     string
	down    atomic.Bool
	stalled atomic.Bool
	srv     *http.Server

	mu    sync.Mutex
	parts [][]byte
}

// Start serves jpeg on a free loopback port until the test ends.
func Start(t testing.TB, jpeg []byte) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{parts: [][]byte{jpeg}, URL: "http://" + l.Addr().String() + "/stream.mjpg"}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// SetDown closes running streams and refuses new ones while down is true.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// SetStalled keeps running streams open but sends nothing while stalled is
// true: a camera whose network path hangs. New requests stall too.
func (s *Server) SetStalled(stalled bool) { s.stalled.Store(stalled) }

// SetParts replaces what is sent: each part in turn, over and over. A part
// need not be a valid JPEG (a broken frame) and parts may differ in size.
func (s *Server) SetParts(parts ...[]byte) {
	s.mu.Lock()
	s.parts = parts
	s.mu.Unlock()
}

func (s *Server) part(i int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts[i%len(s.parts)]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
	for i := 0; !s.down.Load(); i++ {
		if !s.stalled.Load() {
			p := s.part(i)
			fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(p))
			if _, err := w.Write(p); err != nil {
				return
			}
			io.WriteString(w, "\r\n")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
