// Package testenv finds what edged's tests need outside the Go tree: the
// repository root, the runtime libraries `make tflite-lib litert-lib`
// fetch, the conformance models, and the real photos (gocv's images/ in
// the module cache, Debian's opencv-doc). A part that is missing skips the
// test, except under CI=true, where it fails it: CI installs everything,
// so a missing part there is a broken install step, not a reason to skip.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// OpenCVData is where Debian's opencv-doc keeps its sample photos.
const OpenCVData = "/usr/share/doc/opencv-doc/examples/data"

// GocvVersion is the gocv module whose images/ folder holds photos.
const GocvVersion = "v0.31.0"

// Missing skips t for a missing part, or fails it under CI=true.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Root is the repository's root: the folder of go.mod above the test's
// working directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// Library is the path of a runtime library of the source tree: kind is
// "tflite" (libtensorflowlite_c.so) or "litert" (libLiteRt.so), for this
// machine's architecture unless arch is given. $EDGED_TFLITE_LIB or
// $EDGED_LITERT_LIB take precedence for this architecture.
func Library(t testing.TB, kind string, arch ...string) string {
	t.Helper()
	a := runtime.GOARCH
	if len(arch) > 0 {
		a = arch[0]
	}
	var env, file, make string
	switch kind {
	case "tflite":
		env, file, make = "EDGED_TFLITE_LIB", "libtensorflowlite_c.so", "make tflite-lib"
	case "litert":
		env, file, make = "EDGED_LITERT_LIB", "libLiteRt.so", "make litert-lib"
	default:
		t.Fatalf("testenv.Library: unknown kind %q", kind)
	}
	path := os.Getenv(env)
	if path == "" || a != runtime.GOARCH {
		path = filepath.Join(Root(t), "third_party", kind, "linux_"+a, file)
	}
	if _, err := os.Stat(path); err != nil {
		Missing(t, "%s runtime not fetched (%s): %v", kind, make, err)
	}
	return path
}

var gomodcache = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// Photo is the path of a real photo by file name: gocv's images/ (in the
// module cache) or opencv-doc's samples.
func Photo(t testing.TB, name string) string {
	t.Helper()
	var tried []string
	if c := gomodcache(); c != "" {
		tried = append(tried, filepath.Join(c, "gocv.io", "x", "gocv@"+GocvVersion, "images", name))
	}
	tried = append(tried, filepath.Join(OpenCVData, name))
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, "photo %s missing (apt-get install opencv-doc; gocv in the module cache): tried %v", name, tried)
	return ""
}

// ConformanceModel is the path of one of the third-party models `make
// conformance-models` fetches into third_party/mediapipe.
func ConformanceModel(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Root(t), "third_party", "mediapipe", name)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "conformance model %s missing (make conformance-models)", p)
	}
	return p
}

// HomeAssistant is the `hass` of build/ha-venv (`make ha-venv`: PyPI's
// homeassistant 2024.3.3, the newest that runs on Debian 12's Python).
func HomeAssistant(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Root(t), "build", "ha-venv", "bin", "hass")
	if _, err := os.Stat(p); err != nil {
		Missing(t, "Home Assistant missing (make ha-venv): %v", err)
	}
	return p
}
