// Package regionstate keeps the regions' confirmed states on disk, so that
// a restarted edged resumes each region in the state it had instead of
// flapping to unknown. The file is small JSON, replaced atomically (write,
// fsync, rename) on every change.
package regionstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// Store holds the states by camera and region.
type Store struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	states map[string]map[string]result.RegionState
}

// fileVersion is the layout of the file.
const fileVersion = 1

type file struct {
	V       int                                      `json:"v"`
	Cameras map[string]map[string]result.RegionState `json:"cameras"`
}

// maxFileSize bounds what Open reads: a state is about 200 bytes.
const maxFileSize = 8 << 20

// Open reads the store at path. A missing file is an empty store; an
// unreadable or malformed one is moved aside (path.corrupt-<time>) with a
// warning, and the store starts empty: the states are rebuilt from the
// next results, and nothing else depends on them.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{path: path, log: log, states: map[string]map[string]result.RegionState{}}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("region states: %w", err)
	}
	data, err := ReadFile(path, maxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	var f file
	if err == nil {
		err = json.Unmarshal(data, &f)
		if err == nil && f.V != fileVersion {
			err = fmt.Errorf("version %d, want %d", f.V, fileVersion)
		}
	}
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("region states %s: unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		log.Warn("region states file unreadable: moved aside, regions start unknown", "path", path, "moved_to", aside, "err", err)
		return s, nil
	}
	for cam, regions := range f.Cameras {
		s.states[cam] = map[string]result.RegionState{}
		for r, st := range regions {
			if st.Label == "" {
				continue
			}
			s.states[cam][r] = st
		}
	}
	return s, nil
}

// ReadFile reads path, a regular file of at most limit bytes: a state
// file replaced by a device node or a huge file is an error, not an
// endless read.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > limit {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", path, limit)
	}
	buf := make([]byte, st.Size())
	_, err = io.ReadFull(f, buf)
	return buf, err
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Get returns a region's stored state.
func (s *Store) Get(camera, region string) (result.RegionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[camera][region]
	return st, ok
}

// All returns a copy of every stored state.
func (s *Store) All() map[string]map[string]result.RegionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]result.RegionState{}
	for c, rs := range s.states {
		out[c] = map[string]result.RegionState{}
		for r, st := range rs {
			out[c][r] = st
		}
	}
	return out
}

// Put records a region's new state and writes the file.
func (s *Store) Put(camera, region string, st result.RegionState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states[camera] == nil {
		s.states[camera] = map[string]result.RegionState{}
	}
	s.states[camera][region] = st
	return s.writeLocked()
}

// Keep drops the states of regions that keep does not list (regions
// removed from the configuration) and writes the file if that changed it.
func (s *Store) Keep(keep map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for cam, rs := range s.states {
		for r := range rs {
			if !slices.Contains(keep[cam], r) {
				delete(rs, r)
				changed = true
			}
		}
		if len(rs) == 0 {
			delete(s.states, cam)
		}
	}
	if !changed {
		return nil
	}
	return s.writeLocked()
}

func (s *Store) writeLocked() error {
	data, err := json.MarshalIndent(file{V: fileVersion, Cameras: s.states}, "", "  ")
	if err != nil {
		return fmt.Errorf("region states: %w", err)
	}
	return WriteFile(s.path, data)
}

// WriteFile replaces path with data atomically: a crash leaves the old
// file or the new one, never a mix.
func WriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
