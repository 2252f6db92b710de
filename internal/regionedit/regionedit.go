// Package regionedit keeps the regions drawn and applied in the live view's
// region editor. They live in a small JSON file in the state directory and
// are laid over the configuration each time it is loaded (at start and at
// every reload), so an applied region survives restarts while edged never
// writes to its configuration file (read-only under systemd). A region
// of the configuration with the same name gets the drawn rectangle; any
// other name adds a region with the defaults (the camera's model, every
// frame inferred).
package regionedit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/regionstate"
)

// Edit is one region drawn on a camera's frame.
type Edit struct {
	Camera string `json:"camera"`
	Name   string `json:"name"`
	// ROI is the rectangle as fractions of the frame: x, y, w, h.
	ROI [4]float64 `json:"roi"`
}

// Box is e's rectangle as a configuration box (fractions).
func (e Edit) Box() preprocess.Box {
	f := func(v float64) preprocess.Coord { return preprocess.Coord{V: v, Frac: true} }
	return preprocess.Box{X: f(e.ROI[0]), Y: f(e.ROI[1]), W: f(e.ROI[2]), H: f(e.ROI[3])}
}

// Check reports what is wrong with e on its own (the configuration checks
// the rest when it is applied).
func (e Edit) Check() error {
	if e.Camera == "" {
		return errors.New("camera: empty")
	}
	if e.Name == "" {
		return errors.New("name: empty")
	}
	for i, v := range e.ROI {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("roi[%d]: %v is not a fraction between 0 and 1", i, v)
		}
	}
	if e.ROI[2] <= 0 || e.ROI[3] <= 0 {
		return fmt.Errorf("roi: %v×%v: the rectangle is empty", e.ROI[2], e.ROI[3])
	}
	if e.ROI[0]+e.ROI[2] > 1+1e-9 || e.ROI[1]+e.ROI[3] > 1+1e-9 {
		return fmt.Errorf("roi: %v: the rectangle leaves the frame", e.ROI)
	}
	return nil
}

// maxEdits bounds the file: more than any camera's regions allow.
const maxEdits = 256

// Store is the file of edits. Its methods are safe for concurrent use.
type Store struct {
	path string
	mu   sync.Mutex
}

// Open returns the store kept at path; the file is made on the first Set.
func Open(path string) *Store { return &Store{path: path} }

// Path is the file the edits are kept in.
func (s *Store) Path() string { return s.path }

// Edits returns the kept edits; none when the file does not exist.
func (s *Store) Edits() ([]Edit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read()
}

func (s *Store) read() ([]Edit, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("region edits: %w", err)
	}
	var edits []Edit
	if err := json.Unmarshal(data, &edits); err != nil {
		return nil, fmt.Errorf("region edits %s: %w", s.path, err)
	}
	for i, e := range edits {
		if err := e.Check(); err != nil {
			return nil, fmt.Errorf("region edits %s: [%d]: %w", s.path, i, err)
		}
	}
	return edits, nil
}

func (s *Store) write(edits []Edit) error {
	if len(edits) > maxEdits {
		return fmt.Errorf("region edits: %d kept, at most %d", len(edits), maxEdits)
	}
	data, err := json.MarshalIndent(edits, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return fmt.Errorf("region edits: %w", err)
	}
	return regionstate.WriteFile(s.path, append(data, '\n'))
}

// Update changes the kept edits with f and writes them; f's error, or a
// failed write, leaves the file as it was. It returns the edits before
// the change, for Restore.
func (s *Store) Update(f func([]Edit) ([]Edit, error)) (before []Edit, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before, err = s.read()
	if err != nil {
		return nil, err
	}
	next, err := f(slices.Clone(before))
	if err != nil {
		return nil, err
	}
	return before, s.write(next)
}

// Restore writes edits back (undoing an Update whose result was refused).
func (s *Store) Restore(edits []Edit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(edits)
}

// Set replaces the edit of e's camera and name, or adds it.
func Set(edits []Edit, e Edit) ([]Edit, error) {
	if err := e.Check(); err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(edits, func(o Edit) bool { return o.Camera == e.Camera && o.Name == e.Name }); i >= 0 {
		edits[i] = e
		return edits, nil
	}
	return append(edits, e), nil
}

// Remove drops the edit of camera's region name; ErrNotEdited when there
// is none.
func Remove(edits []Edit, camera, name string) ([]Edit, error) {
	i := slices.IndexFunc(edits, func(o Edit) bool { return o.Camera == camera && o.Name == name })
	if i < 0 {
		return nil, ErrNotEdited
	}
	return slices.Delete(edits, i, i+1), nil
}

// ErrNotEdited is Remove's error for a region the editor did not apply
// (one of the configuration file's own, or none at all).
var ErrNotEdited = errors.New("no region of that name was applied from the editor (regions of the configuration file are changed there)")

// Apply returns cfg with edits laid over it, checked as a whole; cfg is
// not changed. An edit for a camera cfg lacks is an error naming it.
func Apply(cfg *config.Config, edits []Edit) (*config.Config, error) {
	if len(edits) == 0 {
		return cfg, nil
	}
	out := *cfg
	out.Cameras = slices.Clone(cfg.Cameras)
	for i := range out.Cameras {
		out.Cameras[i].Regions = slices.Clone(out.Cameras[i].Regions)
	}
	for _, e := range edits {
		i := slices.IndexFunc(out.Cameras, func(c config.Camera) bool { return c.Name == e.Camera })
		if i < 0 {
			return nil, fmt.Errorf("region %q: no camera named %q in the configuration", e.Name, e.Camera)
		}
		cam := &out.Cameras[i]
		if j := slices.IndexFunc(cam.Regions, func(r config.Region) bool { return r.Name == e.Name }); j >= 0 {
			cam.Regions[j].ROI = e.Box()
			continue
		}
		cam.Regions = append(cam.Regions, config.NewRegion(*cam, e.Name, e.Box()))
	}
	if err := out.ValidateAs("with the regions applied from the editor"); err != nil {
		return nil, err
	}
	return &out, nil
}
