package infer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/edged-io/edged/internal/modelfile"
)

// Registry loads model files through an engine: each load reads the file
// once, checks it once (modelfile.Parse) and hands the same bytes to the
// engine. A file whose content and options are already loaded is shared
// instead of loaded again, so cameras on one model and a reload of an
// unchanged model cost nothing; a model is closed when its last user
// releases it.
type Registry struct {
	engine Engine
	read   func(path string) ([]byte, error)
	mu     sync.Mutex
	loaded map[loadKey]*Loaded
}

type loadKey struct {
	sha256 [sha256.Size]byte
	opts   Options
}

// NewRegistry returns a registry loading with engine.
func NewRegistry(engine Engine) *Registry {
	return &Registry{engine: engine, read: modelfile.Read, loaded: map[loadKey]*Loaded{}}
}

// Engine is the engine the registry loads with.
func (r *Registry) Engine() Engine { return r.engine }

// Loaded is one model file loaded by a Registry and shared by its users;
// each Load returns it once more and each user calls Release once.
type Loaded struct {
	Path   string          // the file it was first loaded from
	SHA256 string          // hex sha256 of the file's bytes
	Info   *modelfile.Info // the file's checked structure
	model  Model
	reg    *Registry
	key    loadKey
	refs   int // guarded by reg.mu
}

// Load reads path once and returns its model, loading it with the engine
// unless a file with the same bytes is already loaded with opts. Errors
// name the file.
func (r *Registry) Load(path string, opts Options) (*Loaded, error) {
	data, err := r.read(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	key := loadKey{sha256: sha256.Sum256(data), opts: opts}
	r.mu.Lock()
	if l := r.loaded[key]; l != nil {
		l.refs++
		r.mu.Unlock()
		return l, nil
	}
	r.mu.Unlock()
	info, err := modelfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	m, err := r.engine.Load(data, info, opts)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	l := &Loaded{Path: path, SHA256: hex.EncodeToString(key.sha256[:]), Info: info,
		model: fileModel{m, path}, reg: r, key: key, refs: 1}
	r.mu.Lock()
	defer r.mu.Unlock()
	if have := r.loaded[key]; have != nil {
		// Loaded twice at once: keep the first, close the second.
		have.refs++
		m.Close()
		return have, nil
	}
	r.loaded[key] = l
	return l, nil
}

// NewSession opens a session on the model; errors name the file.
func (l *Loaded) NewSession() (Session, error) { return l.model.NewSession() }

// Release gives up one use of the model, closing it after the last.
func (l *Loaded) Release() error {
	l.reg.mu.Lock()
	l.refs--
	last := l.refs == 0
	if last && l.reg.loaded[l.key] == l {
		delete(l.reg.loaded, l.key)
	}
	l.reg.mu.Unlock()
	if last {
		return l.model.Close()
	}
	return nil
}

// LoadFile reads and checks the model file at path and loads it with e,
// for tools and tests that load a model once; the daemon uses a Registry.
// Errors name the file.
func LoadFile(e Engine, path string, opts Options) (Model, error) {
	info, data, err := modelfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := e.Load(data, info, opts)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return fileModel{m, path}, nil
}

// fileModel names its file in NewSession's errors.
type fileModel struct {
	Model
	path string
}

func (m fileModel) NewSession() (Session, error) {
	s, err := m.Model.NewSession()
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.path, err)
	}
	return s, nil
}
