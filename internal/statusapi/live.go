package statusapi

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

// Frame is a camera's latest frame as a JPEG, for the live view.
type Frame struct {
	JPEG     []byte
	Number   uint64
	Captured time.Time
}

// Snapshots returns camera's latest frame captured at or after since, with
// its regions and labels drawn when overlay is set. ErrNoCamera: no
// camera of that name.
type Snapshots func(ctx context.Context, camera string, since time.Time, overlay bool) (Frame, error)

// ViewLabels is a camera view's (a region's, or the whole frame's) latest
// result, as GET /api/cameras/{camera}/latest serves it: the same frame
// number and labels as the MQTT result of that frame.
type ViewLabels struct {
	Region   string      `json:"region,omitempty"`
	Frame    uint64      `json:"frame"`
	Captured time.Time   `json:"captured"`
	Labels   []ViewLabel `json:"labels"`
	State    string      `json:"state,omitempty"`
}

// ViewLabel is one label of a ViewLabels.
type ViewLabel struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// LatestResults returns camera's latest result per view; ErrNoCamera: no
// camera of that name.
type LatestResults func(camera string) ([]ViewLabels, error)

// ErrNoCamera is what Snapshots returns for an unknown camera.
var ErrNoCamera = errors.New("no such camera")

// CameraInference is a camera's inference figures in the snapshot.
type CameraInference struct {
	Frames  uint64  `json:"frames"`   // frames inferred since start
	InferMS float64 `json:"infer_ms"` // moving average of one frame's inference
}

//go:embed web
var web embed.FS

// ServeLive adds the live view to the endpoint: the page at / (its assets
// embedded, nothing fetched from elsewhere) and each camera's latest frame
// at /api/cameras/{camera}/snapshot.jpg (?overlay=1 draws the regions and
// labels), and the labels of each camera's latest results at
// /api/cameras/{camera}/latest. Camera images are private: off loopback
// they need the token (see Access).
func (s *Server) ServeLive(snap Snapshots, latest LatestResults) {
	s.live = snap
	sub, _ := fs.Sub(web, "web")
	files := http.FileServerFS(sub)
	// The page itself holds nothing private: it loads off loopback too,
	// so that a user can give the token.
	s.mux.Handle("GET /{$}", files)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	s.mux.Handle("GET /api/cameras/{camera}/snapshot.jpg", s.guard(http.HandlerFunc(s.snapshot), true, false))
	s.mux.Handle("GET /api/cameras/{camera}/latest", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("camera")
		views, err := latest(name)
		if errors.Is(err, ErrNoCamera) {
			http.Error(w, "no camera named "+strconv.Quote(name), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if views == nil {
			views = []ViewLabels{}
		}
		w.Header().Set("Cache-Control", "no-store")
		s.write(w, http.StatusOK, views)
	}), true, false))
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("camera")
	overlay := r.URL.Query().Get("overlay") == "1"
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	// A frame at most a second old, else the next one.
	f, err := s.live(ctx, name, time.Now().Add(-time.Second), overlay)
	switch {
	case errors.Is(err, ErrNoCamera):
		http.Error(w, "no camera named "+strconv.Quote(name), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "no frame from camera "+strconv.Quote(name)+" yet: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame", strconv.FormatUint(f.Number, 10))
	h.Set("X-Captured", f.Captured.UTC().Format(time.RFC3339Nano))
	w.Write(f.JPEG)
}
