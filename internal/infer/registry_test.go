package infer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edged-io/edged/internal/modelfile"
)

// countingEngine records what it was asked to load and close.
type countingEngine struct {
	mu     sync.Mutex
	loads  [][]byte
	closed int
	fail   error
}

func (e *countingEngine) Name() string { return "counting" }

func (e *countingEngine) Load(data []byte, info *modelfile.Info, _ Options) (Model, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return nil, e.fail
	}
	if info == nil {
		return nil, errors.New("no info")
	}
	e.loads = append(e.loads, data)
	return &countingModel{e: e}, nil
}

type countingModel struct{ e *countingEngine }

func (m *countingModel) NewSession() (Session, error) { return nil, errors.New("no sessions here") }
func (m *countingModel) Close() error {
	m.e.mu.Lock()
	m.e.closed++
	m.e.mu.Unlock()
	return nil
}

const defaultModel = "../../models/efficientnet_lite0_int8.tflite"

// TestRegistryReadsOnce: a load reads the file once and hands the same
// bytes to the engine; a second load of the same bytes and options shares
// the model; the model closes with its last user.
func TestRegistryReadsOnce(t *testing.T) {
	e := &countingEngine{}
	r := NewRegistry(e)
	reads := map[string]int{}
	r.read = func(p string) ([]byte, error) {
		reads[p]++
		return os.ReadFile(p)
	}
	a, err := r.Load(defaultModel, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if reads[defaultModel] != 1 || len(e.loads) != 1 {
		t.Fatalf("one load: %d reads, %d engine loads; want 1 and 1", reads[defaultModel], len(e.loads))
	}
	if len(a.SHA256) != 64 || a.Info == nil || len(a.Info.Labels) != 1000 {
		t.Errorf("loaded %s with %v", a.SHA256, a.Info)
	}
	// The same file under another name: one more read, no engine load.
	copyPath := filepath.Join(t.TempDir(), "copy.tflite")
	data, _ := os.ReadFile(defaultModel)
	os.WriteFile(copyPath, data, 0o644)
	b, err := r.Load(copyPath, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b != a || reads[copyPath] != 1 || len(e.loads) != 1 {
		t.Errorf("same bytes again: shared %v, %d reads, %d engine loads; want shared, 1, 1", b == a, reads[copyPath], len(e.loads))
	}
	// Other options: a model of its own.
	c, err := r.Load(defaultModel, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c == a || len(e.loads) != 2 {
		t.Errorf("other options: shared %v, %d engine loads; want a second model", c == a, len(e.loads))
	}
	a.Release()
	if e.closed != 0 {
		t.Errorf("closed while a user remains")
	}
	b.Release()
	c.Release()
	if e.closed != 2 {
		t.Errorf("%d models closed after the last releases, want 2", e.closed)
	}
	// Released for good: the next load loads again.
	d, err := r.Load(defaultModel, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.loads) != 3 {
		t.Errorf("%d engine loads after every user left, want 3", len(e.loads))
	}
	d.Release()
}

// TestRegistryErrorsNameTheFile: unreadable, malformed and refused files
// each give an error naming the file.
func TestRegistryErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.tflite")
	os.WriteFile(garbage, []byte("not a model at all, just some bytes"), 0o644)
	e := &countingEngine{}
	r := NewRegistry(e)
	for _, p := range []string{filepath.Join(dir, "missing.tflite"), garbage} {
		if _, err := r.Load(p, Options{}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%s): %v, want an error naming the file", p, err)
		}
	}
	e.fail = errors.New("runtime says no")
	if _, err := r.Load(defaultModel, Options{}); err == nil || !strings.Contains(err.Error(), defaultModel) || !strings.Contains(err.Error(), "runtime says no") {
		t.Errorf("refused: %v", err)
	}
	if len(r.loaded) != 0 {
		t.Errorf("failed loads left %d models in the registry", len(r.loaded))
	}
}
