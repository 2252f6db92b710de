package statusapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/edged-io/edged/internal/inbox"
)

// ServeSamples adds the samples inbox: GET /api/samples (waiting samples,
// most uncertain first), GET /api/samples/image?id=, POST
// /api/samples/label {"id","class"} and POST /api/samples/discard {"id"}
// (both need the token), GET /api/classes and GET /api/dataset.tar (the
// labelled dataset as an ImageFolder tar, for `edged-train pull`).
func (s *Server) ServeSamples(in *inbox.Inbox) {
	s.mux.Handle("GET /api/samples", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max, _ := strconv.Atoi(r.URL.Query().Get("max"))
		if max <= 0 || max > 1000 {
			max = 200
		}
		items, err := in.List(max)
		if err != nil {
			s.fail(w, err)
			return
		}
		if items == nil {
			items = []inbox.Item{}
		}
		s.write(w, http.StatusOK, items)
	}), true, false))
	s.mux.Handle("GET /api/samples/image", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := in.Image(r.URL.Query().Get("id"))
		if err != nil {
			s.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFile(w, r, p)
	}), true, false))
	s.mux.Handle("GET /api/classes", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := in.Classes()
		if err != nil {
			s.fail(w, err)
			return
		}
		s.write(w, http.StatusOK, c)
	}), true, false))
	s.mux.Handle("POST /api/samples/label", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID    string `json:"id"`
			Class string `json:"class"`
		}
		if !s.readJSON(w, r, &req) {
			return
		}
		if _, err := in.Label(req.ID, req.Class); err != nil {
			s.fail(w, err)
			return
		}
		s.log.Info("sample labelled", "id", req.ID, "class", req.Class)
		w.WriteHeader(http.StatusNoContent)
	}), true, true))
	s.mux.Handle("POST /api/samples/discard", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID string `json:"id"`
		}
		if !s.readJSON(w, r, &req) {
			return
		}
		if err := in.Discard(req.ID); err != nil {
			s.fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), true, true))
	s.mux.Handle("GET /api/dataset.tar", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.Header().Set("Content-Disposition", `attachment; filename="dataset.tar"`)
		if err := in.WriteTar(w); err != nil {
			s.log.Warn("dataset export failed", "err", err)
		}
	}), true, false))
}

func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	var bad *inbox.BadRequest
	switch {
	case errors.As(err, &bad):
		http.Error(w, bad.Msg, http.StatusBadRequest)
	case errors.Is(err, inbox.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		s.log.Warn("samples endpoint", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}
