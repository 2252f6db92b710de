package regionstate

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// TestStoreRoundTrip: a state put is read back by a new store; removed
// regions are dropped; a malformed file is moved aside, not fatal.
func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "regions.json")
	s, err := Open(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st := result.RegionState{Label: "car", Score: 0.9, Since: time.Unix(100, 0).UTC(), Seq: 4}
	if err := s.Put("lot", "spot-1", st); err != nil {
		t.Fatal(err)
	}
	s.Put("lot", "spot-2", st)
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s2.Get("lot", "spot-1"); !ok || got != st {
		t.Fatalf("read back %+v %v, want %+v", got, ok, st)
	}
	if err := s2.Keep(map[string][]string{"lot": {"spot-1"}}); err != nil {
		t.Fatal(err)
	}
	s3, _ := Open(path, nil)
	if _, ok := s3.Get("lot", "spot-2"); ok {
		t.Error("a removed region's state survived Keep")
	}
	for _, bad := range []string{"{", `{"v":9,"cameras":{}}`, "\x00\x01"} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		s4, err := Open(path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%q: %v, want the file moved aside", bad, err)
		}
		if len(s4.All()) != 0 {
			t.Errorf("%q: states %v from a malformed file", bad, s4.All())
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%q: the malformed file is still in place", bad)
		}
	}
}
