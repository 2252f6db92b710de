package statusapi

import (
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
)

// RegionChange is the outcome of a region applied or removed in the live
// view's editor.
type RegionChange struct {
	Applied bool     `json:"applied"`
	Changed []string `json:"changed"`           // what the reload changed
	Restart []string `json:"restart,omitempty"` // other settings that differ and wait for a restart
	File    string   `json:"file"`              // where the editor's regions are kept
}

// RegionEditor applies the regions drawn in the page through the reload
// path. Errors: ErrNoCamera, ErrNoRegion, or ErrRejected wrapped with the
// reason (the configuration's own message, naming the field).
type RegionEditor interface {
	// ApplyRegion sets camera's region name to roi (x, y, w, h as
	// fractions of the frame), adding it when the camera lacks it.
	ApplyRegion(camera, name string, roi [4]float64) (RegionChange, error)
	// RemoveRegion drops a region the editor applied.
	RemoveRegion(camera, name string) (RegionChange, error)
}

// Errors of a RegionEditor.
var (
	ErrNoRegion = errors.New("no region applied from the editor by that name")
	ErrRejected = errors.New("region not applied")
)

// ServeRegionEditor adds POST /api/cameras/{camera}/regions
// {"name", "roi": {"x", "y", "w", "h"}} (fractions of the frame) and DELETE
// /api/cameras/{camera}/regions/{region}. Both change the box: they need
// the token and refuse cross-site requests, and the body must be JSON (a
// form posted from another site cannot be).
func (s *Server) ServeRegionEditor(e RegionEditor) {
	s.mux.Handle("POST /api/cameras/{camera}/regions", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			http.Error(w, "the body must be application/json", http.StatusUnsupportedMediaType)
			return
		}
		var req struct {
			Name string `json:"name"`
			ROI  struct {
				X, Y, W, H *float64
			} `json:"roi"`
		}
		if !s.readJSON(w, r, &req) {
			return
		}
		var roi [4]float64
		for i, v := range []*float64{req.ROI.X, req.ROI.Y, req.ROI.W, req.ROI.H} {
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				http.Error(w, "roi."+"xywh"[i:i+1]+": missing or not a number (fractions of the frame)", http.StatusBadRequest)
				return
			}
			roi[i] = *v
		}
		s.regionReply(w, r.PathValue("camera"), req.Name)(e.ApplyRegion(r.PathValue("camera"), req.Name, roi))
	}), true, true))
	s.mux.Handle("DELETE /api/cameras/{camera}/regions/{region}", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.regionReply(w, r.PathValue("camera"), r.PathValue("region"))(e.RemoveRegion(r.PathValue("camera"), r.PathValue("region")))
	}), true, true))
}

// regionReply writes an editor's outcome.
func (s *Server) regionReply(w http.ResponseWriter, camera, region string) func(RegionChange, error) {
	return func(c RegionChange, err error) {
		switch {
		case err == nil:
			s.log.Info("region editor", "camera", camera, "region", region, "changed", c.Changed)
			s.write(w, http.StatusOK, c)
		case errors.Is(err, ErrNoCamera):
			http.Error(w, "no camera named "+strconv.Quote(camera), http.StatusNotFound)
		case errors.Is(err, ErrNoRegion):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, ErrRejected):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		default:
			s.log.Warn("region editor", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}
}
