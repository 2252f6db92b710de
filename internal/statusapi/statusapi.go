// Package statusapi serves edged's HTTP endpoint: /metrics in the
// Prometheus text format, /healthz (is the daemon alive and how well) and
// /readyz (is it serving) as JSON describing each camera, the broker, the
// engine and the models. Nothing it serves changes state, and it binds to
// loopback unless configured otherwise.
package statusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// Broker is the result sink's state.
type Broker struct {
	URL       string `json:"url,omitempty"`
	Connected bool   `json:"connected"`
	// Ready: results are deliverable (connected, or accepted by a
	// persistent queue that delivers them later).
	Ready     bool   `json:"ready"`
	LastError string `json:"last_error,omitempty"`
}

// Engine names the inference engine in use.
type Engine struct {
	Name    string `json:"name"`
	Library string `json:"library"`
}

// Model is a loaded model.
type Model struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Labels int    `json:"labels"`
}

// Reload is the outcome of the latest reload (SIGHUP).
type Reload struct {
	At      time.Time `json:"at"`
	Applied bool      `json:"applied"`
	Error   string    `json:"error,omitempty"`   // why it was rejected
	Restart []string  `json:"restart,omitempty"` // changed keys that wait for a restart
}

// Snapshot is the daemon's state at one moment.
type Snapshot struct {
	Version string                   `json:"version"`
	Device  string                   `json:"device"`
	Boot    string                   `json:"boot"`
	Started time.Time                `json:"started"`
	Cameras map[string]result.Status `json:"cameras"`
	Broker  *Broker                  `json:"broker,omitempty"` // nil without MQTT
	Engine  Engine                   `json:"engine"`
	Models  []Model                  `json:"models"`
	Reload  *Reload                  `json:"last_reload,omitempty"` // nil until the first reload
	// Stalls lists the stages stuck in one read or invoke for longer than
	// StallAfter (a device or stream that hangs, a file that blocks).
	Stalls []string `json:"stalls,omitempty"`
	// Deploy is the fleet deployment's status; nil without fleet.
	Deploy *Deploy `json:"deploy,omitempty"`
	// Inference has each camera's inference figures.
	Inference map[string]CameraInference `json:"inference,omitempty"`
	// Queue is the outbound queue's depth; nil without the queue.
	Queue *Queue `json:"queue,omitempty"`
}

// Queue is the outbound queue's state.
type Queue struct {
	Depth int   `json:"depth"`
	Bytes int64 `json:"bytes"`
}

// Deploy is where fleet deployment stands on the box.
type Deploy struct {
	State    string            `json:"state"`
	ID       string            `json:"id,omitempty"`
	Version  uint64            `json:"version,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Deployed uint64            `json:"deployed_version"`
	Running  map[string]string `json:"running,omitempty"` // slot → model sha256
}

// Health grades the snapshot: failed when no camera is working or can
// recover, degraded when a camera is not streaming or results cannot be
// delivered now, healthy otherwise. A camera whose file or folder has
// ended is done, not unhealthy.
func (s Snapshot) Health() result.Health {
	states := make([]result.State, 0, len(s.Cameras))
	for _, c := range s.Cameras {
		states = append(states, c.State)
	}
	h := result.Grade(states, s.Broker == nil || s.Broker.Connected)
	if h == result.Healthy && len(s.Stalls) > 0 {
		h = result.Degraded
	}
	return h
}

// StallAfter is how long a read or invoke may run before /healthz lists it
// as stuck.
const StallAfter = 10 * time.Second

// Ready reports whether the daemon serves: every camera has been opened
// (none is still starting) and results are deliverable.
func (s Snapshot) Ready() bool {
	for _, c := range s.Cameras {
		if c.State == result.Starting {
			return false
		}
	}
	return s.Broker == nil || s.Broker.Ready
}

// response is what /healthz and /readyz return.
type response struct {
	Status result.Health `json:"status"`
	Ready  bool          `json:"ready"`
	Snapshot
}

// Server is the HTTP endpoint.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	mux  *http.ServeMux
	log  *slog.Logger
	snap func() Snapshot
	live Snapshots // nil until ServeLive
	// access holds the token (SetAccess); certFile and keyFile turn TLS
	// on (UseTLS).
	access            Access
	certFile, keyFile string
}

// SetAccess sets who may do what (see Access); call it before Run.
func (s *Server) SetAccess(a Access) { s.access = a }

// UseTLS serves HTTPS with the certificate and key files; call it before
// Run.
func (s *Server) UseTLS(certFile, keyFile string) { s.certFile, s.keyFile = certFile, keyFile }

// Listen binds addr (host:port; port 0 picks a free one) and prepares the
// endpoint: metrics serves /metrics, snapshot is called per request for
// /healthz and /readyz. Serving starts with Run.
func Listen(addr string, metrics http.Handler, snapshot func() Snapshot, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	s := &Server{ln: ln, log: log, snap: snapshot, mux: mux}
	mux.Handle("GET /metrics", s.guard(metrics, false, false))
	mux.Handle("GET /healthz", s.guard(http.HandlerFunc(s.healthz), false, false))
	mux.Handle("GET /readyz", s.guard(http.HandlerFunc(s.readyz), false, false))
	mux.HandleFunc("POST /api/signin", s.signIn)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then shuts the server down.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.certFile != "" {
			errc <- s.srv.ServeTLS(s.ln, s.certFile, s.keyFile)
			return
		}
		errc <- s.srv.Serve(s.ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("http endpoint %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// Close stops the server at once; it is safe after Run has returned.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.ln.Close()
	return err
}

// healthz answers 200 unless the daemon has failed (503), with the state.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	snap := s.snap()
	r := response{Status: snap.Health(), Ready: snap.Ready(), Snapshot: snap}
	code := http.StatusOK
	if r.Status == result.Unhealthy {
		code = http.StatusServiceUnavailable
	}
	s.write(w, code, r)
}

// readyz answers 200 once the daemon serves, 503 before, with the state.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	snap := s.snap()
	r := response{Status: snap.Health(), Ready: snap.Ready(), Snapshot: snap}
	code := http.StatusOK
	if !r.Ready {
		code = http.StatusServiceUnavailable
	}
	s.write(w, code, r)
}

func (s *Server) write(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.log.Error("status endpoint: encode", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
