package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// deployed is a Deployed entry for a model with sum b in store s.
func deployed(s *Store, b byte, version uint64) Deployed {
	return Deployed{
		SHA256:  fakeSHA(b),
		Path:    s.ArtifactPath(fakeSHA(b), ".tflite"),
		ID:      "deploy-" + string(rune('a'+b%26)),
		Version: version,
		At:      time.Date(2025, 6, 1, 12, 0, int(version), 0, time.UTC),
	}
}

func TestStoreSaveLoad(t *testing.T) {
	s := testStore(t)
	healthy := true
	cur := deployed(s, 1, 3)
	cur.Labels, cur.LabelsSHA256 = s.ArtifactPath(fakeSHA(9), ".txt"), fakeSHA(9)
	want := &State{
		Version: 7,
		ID:      "deploy-7",
		Slots: map[string]*Slot{
			"detector":   {Current: cur, Previous: []Deployed{deployed(s, 2, 2), deployed(s, 3, 1)}},
			"classifier": {Current: deployed(s, 4, 5)},
		},
		Config: &Deployed{SHA256: fakeSHA(5), Path: s.ArtifactPath(fakeSHA(5), ".yaml"), ID: "cfg", Version: 6},
		Status: &Status{Device: "box-1", State: StateApplied, ID: "deploy-7", Version: 7, Healthy: &healthy,
			At: time.Date(2025, 6, 1, 12, 1, 0, 0, time.UTC), Running: map[string]string{"detector": fakeSHA(1)}},
	}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v\nsaved  %+v", got, want)
	}

	// Saving again replaces the file and leaves no temporary files.
	want.Version = 8
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(); err != nil || got.Version != 8 {
		t.Errorf("after a second Save: version %v, %v", got, err)
	}
	ents, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}

func TestStoreLoadMissing(t *testing.T) {
	s := testStore(t)
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 0 || st.ID != "" || st.Config != nil || st.Status != nil || len(st.Slots) != 0 {
		t.Errorf("state of a new store: %+v", st)
	}
	if st.Slots == nil {
		t.Error("Slots is nil: Push on it would panic")
	}
	s.Push(st, "detector", deployed(s, 1, 1))
}

func TestStoreLoadRefuses(t *testing.T) {
	s := testStore(t)
	inside := s.ArtifactPath(fakeSHA(1), ".tflite")
	slot := func(path, labels string) *State {
		return &State{Slots: map[string]*Slot{"detector": {Current: Deployed{SHA256: fakeSHA(1), Path: path, Labels: labels}}}}
	}
	cases := []struct {
		name  string
		state *State
		want  string
	}{
		{"absolute path elsewhere", slot("/etc/passwd", ""), `slot "detector" points outside`},
		{"store's own state", slot(filepath.Join(s.Dir(), "state.json"), ""), "points outside"},
		{"dot-dot out of artifacts", slot(filepath.Join(s.Dir(), "artifacts")+"/../state.json", ""), "points outside"},
		{"partial file", slot(s.partialPath(fakeSHA(1)), ""), "points outside"},
		{"sub-folder of artifacts", slot(filepath.Join(s.Dir(), "artifacts", "x", "m.tflite"), ""), "points outside"},
		{"artifacts folder itself", slot(filepath.Join(s.Dir(), "artifacts"), ""), "points outside"},
		{"relative path", slot("artifacts/m.tflite", ""), "points outside"},
		{"labels outside", slot(inside, "/etc/shadow"), "points outside"},
		{"config outside", &State{Config: &Deployed{Path: "/etc/edged/edged.yaml"}}, "config points outside"},
		{"null slot", &State{Slots: map[string]*Slot{"detector": nil}}, `slot "detector"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Save(c.state); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			wantErr(t, err, c.want)
			wantErr(t, err, filepath.Join(s.Dir(), "state.json"))
		})
	}

	t.Run("inside", func(t *testing.T) {
		if err := s.Save(slot(inside, s.ArtifactPath(fakeSHA(2), ".txt"))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err != nil {
			t.Fatal(err)
		}
	})
	// A slot rolled back to the configuration's own model has no path.
	t.Run("configured model", func(t *testing.T) {
		st := &State{Slots: map[string]*Slot{"detector": {Current: Deployed{ID: Configured}, Previous: []Deployed{deployed(s, 1, 1)}}}}
		if err := s.Save(st); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		if sl := got.Slots["detector"]; sl.Current.Path != "" || sl.Current.ID != Configured {
			t.Errorf("loaded %+v", sl.Current)
		}
	})
	t.Run("not json", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(s.Dir(), "state.json"), []byte("{"), 0o640); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load()
		wantErr(t, err, "state.json")
	})
	t.Run("unreadable", func(t *testing.T) {
		p := filepath.Join(s.Dir(), "state.json")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(p, 0o750); err != nil { // a folder cannot be read as a file
			t.Fatal(err)
		}
		defer os.Remove(p)
		_, err := s.Load()
		wantErr(t, err, "fleet state")
	})
}

// TestStoreLoadRefusesPreviousOutside covers the entries kept for a
// rollback: a rollback hands Previous[0].Path to the daemon as the model
// to load, so it must be held to the same rule as Current.
func TestStoreLoadRefusesPreviousOutside(t *testing.T) {
	s := testStore(t)
	st := &State{Slots: map[string]*Slot{"detector": {
		Current:  deployed(s, 1, 2),
		Previous: []Deployed{{SHA256: fakeSHA(2), Path: "/tmp/evil.tflite", Version: 1}},
	}}}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load()
	wantErr(t, err, "points outside")
}

func TestStorePush(t *testing.T) {
	s := testStore(t) // keeps 2
	st := &State{Slots: map[string]*Slot{}}
	for v := byte(1); v <= 5; v++ {
		s.Push(st, "detector", deployed(s, v, uint64(v)))
	}
	sl := st.Slots["detector"]
	if sl.Current.SHA256 != fakeSHA(5) {
		t.Errorf("current %s, want model 5", sl.Current.SHA256[:4])
	}
	if got := shas(sl.Previous); !slices.Equal(got, []string{fakeSHA(4), fakeSHA(3)}) {
		t.Errorf("previous %v, want models 4 then 3", short(got))
	}

	// The same model again (a redeploy) is not kept twice.
	s.Push(st, "detector", deployed(s, 5, 6))
	if got := shas(sl.Previous); !slices.Equal(got, []string{fakeSHA(4), fakeSHA(3)}) {
		t.Errorf("after a redeploy: previous %v, want models 4 then 3", short(got))
	}
	if sl.Current.Version != 6 {
		t.Errorf("after a redeploy: current version %d, want 6", sl.Current.Version)
	}

	// The same model with other labels is a new setup: the old one is kept.
	withLabels := deployed(s, 5, 7)
	withLabels.LabelsSHA256 = fakeSHA(0x55)
	s.Push(st, "detector", withLabels)
	if got := shas(sl.Previous); !slices.Equal(got, []string{fakeSHA(5), fakeSHA(4)}) {
		t.Errorf("after new labels: previous %v, want models 5 then 4", short(got))
	}

	// Slots are independent. A slot's first deployment keeps the
	// configuration's own model (no path) to go back to.
	s.Push(st, "classifier", deployed(s, 9, 8))
	if c := st.Slots["classifier"]; c.Current.SHA256 != fakeSHA(9) || len(c.Previous) != 1 || c.Previous[0] != (Deployed{ID: Configured}) {
		t.Errorf("new slot: %+v", c)
	}
	if len(sl.Previous) != 2 {
		t.Errorf("pushing to another slot changed this one: %d previous", len(sl.Previous))
	}

	// After a rollback to the configuration's own model, the next model
	// keeps that entry to go back to again.
	rolled := &State{Slots: map[string]*Slot{"detector": {Current: Deployed{ID: Configured}, Previous: []Deployed{deployed(s, 1, 1)}}}}
	s.Push(rolled, "detector", deployed(s, 2, 2))
	if got := rolled.Slots["detector"]; got.Current.SHA256 != fakeSHA(2) || len(got.Previous) != 2 || got.Previous[0].ID != Configured || got.Previous[1].SHA256 != fakeSHA(1) {
		t.Errorf("after a rollback to the configured model: %+v", got)
	}

	// A store that keeps none keeps none.
	s0, err := OpenStore(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	st0 := &State{Slots: map[string]*Slot{}}
	s0.Push(st0, "detector", deployed(s0, 1, 1))
	s0.Push(st0, "detector", deployed(s0, 2, 2))
	if n := len(st0.Slots["detector"].Previous); n != 0 {
		t.Errorf("keep 0: %d previous", n)
	}
}

func shas(ds []Deployed) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.SHA256)
	}
	return out
}

// short cuts sums to their first 4 digits for messages.
func short(sums []string) []string {
	out := make([]string, len(sums))
	for i, s := range sums {
		out[i] = s[:4]
	}
	return out
}

func TestStoreClean(t *testing.T) {
	s := testStore(t)
	cur := deployed(s, 1, 3)
	cur.Labels = s.ArtifactPath(fakeSHA(2), ".txt")
	st := &State{
		Slots:  map[string]*Slot{"detector": {Current: cur, Previous: []Deployed{deployed(s, 3, 2)}}},
		Config: &Deployed{SHA256: fakeSHA(4), Path: s.ArtifactPath(fakeSHA(4), ".yaml")},
	}
	touch := func(p string) {
		t.Helper()
		if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	keepArt := []string{cur.Path, cur.Labels, st.Slots["detector"].Previous[0].Path, st.Config.Path}
	dropArt := []string{s.ArtifactPath(fakeSHA(5), ".tflite"), s.ArtifactPath(fakeSHA(1), ".txt"), s.ArtifactPath("stray", "")}
	keepPart := []string{s.partialPath(fakeSHA(6))}
	dropPart := []string{s.partialPath(fakeSHA(7)), s.partialPath(fakeSHA(6)) + ".http"}
	for _, p := range slices.Concat(keepArt, dropArt, keepPart, dropPart) {
		touch(p)
	}
	s.Clean(st, fakeSHA(6))
	for _, p := range slices.Concat(keepArt, keepPart) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v; want it kept", filepath.Base(p), err)
		}
	}
	for _, p := range slices.Concat(dropArt, dropPart) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v; want it removed", filepath.Base(p), err)
		}
	}
	// The folders stay, and state.json is not the cleaner's business.
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	s.Clean(&State{})
	for _, d := range []string{"artifacts", "partial", "state.json"} {
		if _, err := os.Stat(filepath.Join(s.Dir(), d)); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir(), "artifacts")); len(ents) != 0 {
		t.Errorf("an empty state keeps %d artifacts", len(ents))
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := writeAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Errorf("read %q, %v; want %q", got, err, content)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the folder, want 1", len(ents))
	}
	err := writeAtomic(filepath.Join(dir, "missing", "f.json"), []byte("x"))
	wantErr(t, err, "write")
}

func TestCopyBounded(t *testing.T) {
	var sb strings.Builder
	n, err := copyBounded(&sb, strings.NewReader("12345"), 5)
	if err != nil || n != 5 || sb.String() != "12345" {
		t.Errorf("exact: %d, %v, %q", n, err, sb.String())
	}
	sb.Reset()
	_, err = copyBounded(&sb, strings.NewReader("123456"), 5)
	wantErr(t, err, "more than the 5 bytes")
	sb.Reset()
	n, err = copyBounded(&sb, strings.NewReader("123"), 5)
	if err != nil || n != 3 {
		t.Errorf("short: %d, %v", n, err)
	}
}
