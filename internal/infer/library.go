package infer

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// LibrarySearch says where an engine's runtime library may be found.
type LibrarySearch struct {
	Env  string // environment variable naming the library, e.g. EDGED_TFLITE_LIB
	Dir  string // the source tree's folder under third_party, e.g. "tflite"
	Name string // the library's file name, e.g. libtensorflowlite_c.so
}

// Candidates returns, in order, where to look when no explicit path is
// given: $Env, the installed package's lib/edged next to the executable's
// folder and /usr/lib/edged, the source tree's third_party/<Dir>/linux_<arch>
// (from the working directory and from the executable's parent folder),
// and last the bare file name for the system loader's own search
// (LD_LIBRARY_PATH, ld.so.cache).
func (s LibrarySearch) Candidates() []string {
	var c []string
	if env := os.Getenv(s.Env); env != "" {
		c = append(c, env)
	}
	arch := "linux_" + runtime.GOARCH
	exeDir := ""
	if exe, err := os.Executable(); err == nil {
		exeDir = filepath.Dir(exe)
		c = append(c, filepath.Join(exeDir, "..", "lib", "edged", s.Name))
	}
	c = append(c, filepath.Join("/usr/lib/edged", s.Name))
	if wd, err := os.Getwd(); err == nil {
		c = append(c, filepath.Join(wd, "third_party", s.Dir, arch, s.Name))
	}
	if exeDir != "" {
		c = append(c, filepath.Join(exeDir, "..", "third_party", s.Dir, arch, s.Name))
	}
	return append(c, s.Name)
}

// OpenLibrary loads the library at path with open, or, when path is
// empty, the first of s.Candidates() that loads. It returns the loaded
// library and its path; when none loads, the error lists every place tried
// and why it failed, followed by how (the caller's advice) to get it.
func OpenLibrary[L any](s LibrarySearch, path string, open func(string) (L, error), how string) (L, string, error) {
	paths := []string{path}
	if path == "" {
		paths = s.Candidates()
	}
	var tried []string
	for _, p := range paths {
		if strings.ContainsRune(p, '/') {
			if _, err := os.Stat(p); err != nil {
				tried = append(tried, p+" (not found)")
				continue
			}
		}
		lib, err := open(p)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		return lib, p, nil
	}
	var zero L
	return zero, "", fmt.Errorf("%s not found; tried:\n  %s\n%s", s.Name, strings.Join(tried, "\n  "), how)
}
