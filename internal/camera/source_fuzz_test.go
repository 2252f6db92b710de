package camera

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseSource feeds arbitrary source strings (they come from the
// configuration file) to ParseSource: it never panics, a kind it returns is
// consistent with the string, and a rejection says which source it was.
// Seeds live in testdata/fuzz/FuzzParseSource.
func FuzzParseSource(f *testing.F) {
	f.Add("rtsp://cam.local:554/stream1")
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			if !strings.Contains(err.Error(), "source") {
				t.Fatalf("%q: error %q does not say it is about the source", s, err)
			}
			return
		}
		if src.Raw != strings.TrimSpace(s) {
			t.Fatalf("%q: Raw %q, want the trimmed string", s, src.Raw)
		}
		if src.Kind.String() == "" {
			t.Fatalf("%q: kind %d has no name", s, src.Kind)
		}
		lower := strings.ToLower(src.Raw)
		switch src.Kind {
		case Device:
			if src.Index < 0 && !strings.HasPrefix(src.Raw, "/dev/") {
				t.Fatalf("%q: device without an index or a /dev/ path", s)
			}
		case Stream:
			if !strings.Contains(lower, "://") || src.Index != -1 {
				t.Fatalf("%q: stream %+v without a URL scheme", s, src)
			}
		case File, Folder:
			st, err := os.Stat(src.Raw)
			if err != nil || st.IsDir() != (src.Kind == Folder) {
				t.Fatalf("%q: %v but stat says %v", s, src.Kind, err)
			}
		default:
			t.Fatalf("%q: unknown kind %d", s, src.Kind)
		}
	})
}
