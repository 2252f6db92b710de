package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store is the fleet's part of the state directory:
//
//	<dir>/state.json             what is deployed, the last version taken, the last status
//	<dir>/artifacts/<sha256>.*   deployed models, labels and configs, by content
//	<dir>/partial/<sha256>       artifacts being downloaded (resumable)
//
// Every write is atomic (temporary file, fsync, rename, fsync of the
// folder), so a power cut leaves the old state or the new one.
type Store struct {
	dir  string
	keep int
}

// Deployed is one artifact set in use: a slot's model (and labels) or a
// configuration document.
type Deployed struct {
	SHA256       string    `json:"sha256"`
	Path         string    `json:"path"`
	Labels       string    `json:"labels,omitempty"`
	LabelsSHA256 string    `json:"labels_sha256,omitempty"`
	ID           string    `json:"id"`
	Version      uint64    `json:"version"`
	At           time.Time `json:"at"`
}

// Configured is the id of a slot entry that stands for the
// configuration's own model file (its path is empty).
const Configured = "configured"

// Slot is a model slot's deployed model and the ones kept for rollback,
// the most recent first.
type Slot struct {
	Current  Deployed   `json:"current"`
	Previous []Deployed `json:"previous,omitempty"`
}

// State is what state.json holds.
type State struct {
	// Version is the highest manifest version taken (accepted, whatever
	// came of it): a manifest must carry a higher one.
	Version uint64           `json:"version"`
	ID      string           `json:"id,omitempty"`
	Slots   map[string]*Slot `json:"slots,omitempty"`
	Config  *Deployed        `json:"config,omitempty"`
	Status  *Status          `json:"status,omitempty"`
}

// OpenStore opens (creating) the store in dir, keeping keep previous
// models per slot.
func OpenStore(dir string, keep int) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "artifacts"), filepath.Join(dir, "partial")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("fleet store: %w", err)
		}
	}
	return &Store{dir: dir, keep: keep}, nil
}

// SetKeep changes how many previous models a slot keeps.
func (s *Store) SetKeep(keep int) { s.keep = keep }

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

// Load reads state.json; a missing one is an empty state. A state that
// cannot be read is an error naming the file: the daemon then runs its
// configuration with deployment off, and says so.
func (s *Store) Load() (*State, error) {
	p := filepath.Join(s.dir, "state.json")
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Slots: map[string]*Slot{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fleet state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("fleet state %s: %w", p, err)
	}
	if st.Slots == nil {
		st.Slots = map[string]*Slot{}
	}
	for name, sl := range st.Slots {
		if sl == nil {
			return nil, fmt.Errorf("fleet state %s: slot %q is empty", p, name)
		}
		for _, d := range append([]Deployed{sl.Current}, sl.Previous...) {
			if (d.Path != "" && !s.owns(d.Path)) || (d.Labels != "" && !s.owns(d.Labels)) {
				return nil, fmt.Errorf("fleet state %s: slot %q points outside %s", p, name, s.dir)
			}
		}
	}
	if st.Config != nil && !s.owns(st.Config.Path) {
		return nil, fmt.Errorf("fleet state %s: config points outside %s", p, s.dir)
	}
	return &st, nil
}

// owns reports whether p is an artifact file of the store.
func (s *Store) owns(p string) bool {
	rel, err := filepath.Rel(filepath.Join(s.dir, "artifacts"), p)
	return err == nil && rel != "." && !strings.Contains(rel, string(filepath.Separator)) && !strings.HasPrefix(rel, "..")
}

// Save writes st atomically.
func (s *Store) Save(st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("fleet state: %w", err)
	}
	return writeAtomic(filepath.Join(s.dir, "state.json"), data)
}

// ArtifactPath is where an artifact with sum and extension ext lives once
// verified.
func (s *Store) ArtifactPath(sum, ext string) string {
	return filepath.Join(s.dir, "artifacts", sum+ext)
}

// partialPath is where an artifact with sum is assembled.
func (s *Store) partialPath(sum string) string { return filepath.Join(s.dir, "partial", sum) }

// Push makes d the slot's current model, keeping the one it replaces. A
// slot's first deployment keeps the configuration's own model (an entry
// with no path) to roll back to.
func (s *Store) Push(st *State, slot string, d Deployed) {
	sl := st.Slots[slot]
	if sl == nil {
		sl = &Slot{Current: Deployed{ID: Configured}}
		st.Slots[slot] = sl
	}
	if sl.Current.SHA256 != d.SHA256 || sl.Current.LabelsSHA256 != d.LabelsSHA256 || sl.Current.Path == "" {
		sl.Previous = append([]Deployed{sl.Current}, sl.Previous...)
	}
	if len(sl.Previous) > s.keep {
		sl.Previous = sl.Previous[:s.keep]
	}
	sl.Current = d
}

// Clean removes artifacts no state refers to, and partial downloads
// other than those named in keep.
func (s *Store) Clean(st *State, keep ...string) {
	used := map[string]bool{}
	for _, sl := range st.Slots {
		for _, d := range append([]Deployed{sl.Current}, sl.Previous...) {
			used[filepath.Base(d.Path)] = true
			used[filepath.Base(d.Labels)] = true
		}
	}
	if st.Config != nil {
		used[filepath.Base(st.Config.Path)] = true
	}
	if ents, err := os.ReadDir(filepath.Join(s.dir, "artifacts")); err == nil {
		for _, e := range ents {
			if !used[e.Name()] {
				os.Remove(filepath.Join(s.dir, "artifacts", e.Name()))
			}
		}
	}
	busy := map[string]bool{}
	for _, k := range keep {
		busy[k] = true
	}
	if ents, err := os.ReadDir(filepath.Join(s.dir, "partial")); err == nil {
		for _, e := range ents {
			if !busy[e.Name()] {
				os.Remove(filepath.Join(s.dir, "partial", e.Name()))
			}
		}
	}
}

// writeAtomic writes data to path through a temporary file in the same
// folder: written, fsynced, renamed over path, and the folder fsynced.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// moveAtomic renames a finished file into place and fsyncs the folder.
func moveAtomic(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("move %s into place: %w", to, err)
	}
	return syncDir(filepath.Dir(to))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// copyBounded copies at most limit bytes from r to w and fails when r
// holds more.
func copyBounded(w io.Writer, r io.Reader, limit int64) (int64, error) {
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return n, err
	}
	if n > limit {
		return n, fmt.Errorf("more than the %d bytes announced", limit)
	}
	return n, nil
}
