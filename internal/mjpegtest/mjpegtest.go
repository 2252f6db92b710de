// Package mjpegtest serves an HTTP multipart MJPEG stream on a loopback
// port for tests, and can take it down and bring it back.
package mjpegtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Server streams one JPEG over and over as multipart/x-mixed-replace.
type Server struct {
	URL  string
	jpeg []byte
	down atomic.Bool
	srv  *http.Server
}

// Start serves jpeg on a free loopback port until the test ends.
func Start(t testing.TB, jpeg []byte) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{jpeg: jpeg, URL: "http://" + l.Addr().String() + "/stream.mjpg"}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// SetDown closes running streams and refuses new ones while down is true.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

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
	for !s.down.Load() {
		fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(s.jpeg))
		if _, err := w.Write(s.jpeg); err != nil {
			return
		}
		io.WriteString(w, "\r\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
