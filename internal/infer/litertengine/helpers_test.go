package litertengine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-io/edged/internal/infer/tfliteengine"
	"github.com/edged-io/edged/internal/testenv"
)

// openEngine opens the pinned LiteRT library of the source tree; outside CI
// the test is skipped when it has not been fetched.
func openEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(testenv.Library(t, "litert"))
	if err != nil {
		t.Fatalf("LiteRT runtime: %v", err)
	}
	return e
}

func openTFLite(t testing.TB) *tfliteengine.Engine {
	t.Helper()
	e, err := tfliteengine.Open(testenv.Library(t, "tflite"))
	if err != nil {
		t.Fatalf("TFLite runtime: %v", err)
	}
	return e
}

// corpus returns every model at hand: the bundled one and the MediaPipe
// conformance models.
func corpus(t testing.TB) []string {
	t.Helper()
	root := testenv.Root(t)
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
