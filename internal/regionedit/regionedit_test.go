package regionedit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/config"
)

const twoCameras = `
cameras:
  - name: door
    source: /dev/video0
    regions:
      - {name: handle, roi: {x: 0.1, y: 0.1, w: 0.2, h: 0.2}, confirm: 5}
  - name: yard
    source: /dev/video1
`

func TestApplyOverConfiguration(t *testing.T) {
	cfg, err := config.Parse([]byte(twoCameras), "edged.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := Open(filepath.Join(t.TempDir(), "state", "regions.json"))
	if e, err := st.Edits(); err != nil || len(e) != 0 {
		t.Fatalf("no file: %v, %v", e, err)
	}
	for _, e := range []Edit{
		{Camera: "door", Name: "handle", ROI: [4]float64{0.5, 0.5, 0.25, 0.25}},
		{Camera: "yard", Name: "gate", ROI: [4]float64{0, 0, 0.5, 1}},
	} {
		if _, err := st.Update(func(es []Edit) ([]Edit, error) { return Set(es, e) }); err != nil {
			t.Fatal(err)
		}
	}
	edits, err := st.Edits()
	if err != nil || len(edits) != 2 {
		t.Fatalf("kept %v, %v", edits, err)
	}
	got, err := Apply(cfg, edits)
	if err != nil {
		t.Fatal(err)
	}
	if h := got.Cameras[0].Regions[0]; h.ROI.X.V != 0.5 || !h.ROI.X.Frac || h.Confirm != 5 {
		t.Errorf("handle %+v: want the drawn box with its own confirm kept", h)
	}
	if len(got.Cameras[1].Regions) != 1 {
		t.Fatalf("yard regions %+v", got.Cameras[1].Regions)
	}
	if g := got.Cameras[1].Regions[0]; g.Model != got.Cameras[1].Model || g.Trigger.Mode != "every" || g.Confirm != 3 {
		t.Errorf("gate %+v: want the camera's model and the defaults", g)
	}
	if len(cfg.Cameras[1].Regions) != 0 || cfg.Cameras[0].Regions[0].ROI.X.V != 0.1 {
		t.Error("Apply changed the configuration it was given")
	}

	// Removing: only what the editor applied.
	if _, err := st.Update(func(es []Edit) ([]Edit, error) { return Remove(es, "yard", "nothing") }); !errors.Is(err, ErrNotEdited) {
		t.Errorf("removing an unknown region: %v", err)
	}
	if _, err := st.Update(func(es []Edit) ([]Edit, error) { return Remove(es, "yard", "gate") }); err != nil {
		t.Fatal(err)
	}
	if edits, _ := st.Edits(); len(edits) != 1 || edits[0].Name != "handle" {
		t.Errorf("after removing gate: %v", edits)
	}
}

func TestBadEdits(t *testing.T) {
	cfg, err := config.Parse([]byte(twoCameras), "edged.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    Edit
		want string
	}{
		{Edit{Camera: "door", Name: "x", ROI: [4]float64{0.8, 0, 0.5, 0.5}}, "leaves the frame"},
		{Edit{Camera: "door", Name: "x", ROI: [4]float64{0, 0, 0, 0.5}}, "empty"},
		{Edit{Camera: "door", Name: "x", ROI: [4]float64{-1, 0, 0.5, 0.5}}, "roi[0]"},
		{Edit{Camera: "door", Name: "", ROI: [4]float64{0, 0, 0.5, 0.5}}, "name"},
	} {
		if _, err := Set(nil, c.e); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
	for _, c := range []struct {
		e    Edit
		want string
	}{
		{Edit{Camera: "porch", Name: "x", ROI: [4]float64{0, 0, 0.5, 0.5}}, `no camera named "porch"`},
		{Edit{Camera: "door", Name: "../../x", ROI: [4]float64{0, 0, 0.5, 0.5}}, "cameras[0].regions[1].name"},
		{Edit{Camera: "door", Name: "Handle", ROI: [4]float64{0, 0, 0.5, 0.5}}, "already defined"},
	} {
		if _, err := Apply(cfg, []Edit{c.e}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
	// A damaged file is an error naming it, never a crash.
	path := filepath.Join(t.TempDir(), "regions.json")
	if err := os.WriteFile(path, []byte(`[{"camera": "door", "roi": "x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path).Edits(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged file: %v", err)
	}
}
