package litertengine

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edged-io/edged/internal/infer/tfliteengine"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// openEngine opens the pinned LiteRT library of the source tree; outside CI
// the test is skipped when it has not been fetched.
func openEngine(t testing.TB) *Engine {
	t.Helper()
	lib := os.Getenv("EDGED_LITERT_LIB")
	if lib == "" {
		lib = filepath.Join(repoRoot(t), "third_party", "litert", "linux_"+runtime.GOARCH, LibraryName)
	}
	e, err := Open(lib)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("LiteRT runtime: %v", err)
		}
		t.Skipf("LiteRT runtime not fetched (make litert-lib): %v", err)
	}
	return e
}

func openTFLite(t testing.TB) *tfliteengine.Engine {
	t.Helper()
	lib := filepath.Join(repoRoot(t), "third_party", "tflite", "linux_"+runtime.GOARCH, tfliteengine.LibraryName)
	e, err := tfliteengine.Open(lib)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("TFLite runtime: %v", err)
		}
		t.Skipf("TFLite runtime not installed (make tflite-lib): %v", err)
	}
	return e
}

// corpus returns every model at hand: the bundled one and the MediaPipe
// conformance models.
func corpus(t testing.TB) []string {
	t.Helper()
	root := repoRoot(t)
	var paths []string
	for _, pattern := range []string{"models/*.tflite", "third_party/mediapipe/*.tflite"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		paths = append(paths, m...)
	}
	if len(paths) < 2 && os.Getenv("CI") != "" {
		t.Fatalf("model corpus incomplete (%d models): make conformance-models", len(paths))
	}
	return paths
}
