package inbox

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samples"
)

// put writes a sample as the keeper does.
func put(t *testing.T, dir, folder, name string, top, second float32) string {
	t.Helper()
	d := filepath.Join(dir, folder)
	os.MkdirAll(d, 0o750)
	sc := samples.Sidecar{Camera: strings.Split(folder, "/")[0], Time: time.Now(), Reason: "low_score",
		Labels: []result.Label{{Label: "cat", Score: top}, {Label: "dog", Score: second}}}
	b, _ := json.Marshal(sc)
	os.WriteFile(filepath.Join(d, name+".json"), b, 0o640)
	os.WriteFile(filepath.Join(d, name+".jpg"), []byte("jpeg bytes of "+name), 0o640)
	return folder + "/" + name
}

func TestListLabelDiscardTar(t *testing.T) {
	root := t.TempDir()
	in := New(filepath.Join(root, "samples"), filepath.Join(root, "dataset"))
	sure := put(t, in.samples, "door", "20261202T100000.000000000Z-000001", 0.9, 0.05)
	unsure := put(t, in.samples, "door/left", "20261202T100001.000000000Z-000002", 0.45, 0.40)
	other := put(t, in.samples, "lot", "20261202T100002.000000000Z-000003", 0.6, 0.3)
	items, err := in.List(0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	if strings.Join(ids, " ") != strings.Join([]string{unsure, other, sure}, " ") {
		t.Fatalf("order %v: most uncertain first", ids)
	}
	if items[0].Region != "" && items[0].Camera != "door" {
		t.Errorf("item %+v", items[0])
	}
	dst, err := in.Label(unsure, "space shuttle")
	if err != nil {
		t.Fatal(err)
	}
	if dst != filepath.Join(in.dataset, "space shuttle", "20261202T100001.000000000Z-000002.jpg") {
		t.Errorf("labelled into %s", dst)
	}
	if _, err := in.Image(unsure); !errors.Is(err, ErrNotFound) {
		t.Errorf("a labelled sample is still in the inbox: %v", err)
	}
	if err := in.Discard(sure); err != nil {
		t.Fatal(err)
	}
	if err := in.Discard(sure); !errors.Is(err, ErrNotFound) {
		t.Errorf("discarding twice: %v", err)
	}
	if _, err := in.Label(other, "cat"); err != nil {
		t.Fatal(err)
	}
	if items, _ := in.List(0); len(items) != 0 {
		t.Errorf("inbox not empty: %v", items)
	}
	var buf bytes.Buffer
	if err := in.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	want := "cat/20261202T100002.000000000Z-000003.jpg space shuttle/20261202T100001.000000000Z-000002.jpg"
	if strings.Join(names, " ") != want {
		t.Errorf("tar %v, want %s", names, want)
	}
}

// Ids and classes from requests can never reach outside the samples and
// dataset folders.
func TestHostilePaths(t *testing.T) {
	root := t.TempDir()
	in := New(filepath.Join(root, "samples"), filepath.Join(root, "dataset"))
	ok := put(t, in.samples, "door", "20261202T100000.000000000Z-000001", 0.5, 0.4)
	secret := filepath.Join(root, "secret.jpg")
	os.WriteFile(secret, []byte("private"), 0o600)
	for _, id := range []string{
		"../secret", "door/../../secret", "/etc/passwd", "door/..", "..", "", "door",
		"door/20261202T100000.000000000Z-000001/../../../secret",
		`door\..\..\secret`, "door/20261202T100000.000000000Z-000001.jpg", "door/%2e%2e/x",
		"door/region/extra/20261202T100000.000000000Z-000001", "do or/20261202T100000.000000000Z-000001",
		"door/20261202T100000.000000000Z-000001\x00",
	} {
		var bad *BadRequest
		if _, err := in.Image(id); !errors.As(err, &bad) {
			t.Errorf("Image(%q): %v, want a bad request", id, err)
		}
		if err := in.Discard(id); !errors.As(err, &bad) {
			t.Errorf("Discard(%q): %v, want a bad request", id, err)
		}
		if _, err := in.Label(id, "cat"); !errors.As(err, &bad) {
			t.Errorf("Label(%q): %v, want a bad request", id, err)
		}
	}
	for _, class := range []string{"../x", "..", ".", "a/b", `a\b`, "", ".hidden", "cat/../../etc", strings.Repeat("a", 101), "a\nb"} {
		var bad *BadRequest
		if _, err := in.Label(ok, class); !errors.As(err, &bad) {
			t.Errorf("Label(class %q): %v, want a bad request", class, err)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "private" {
		t.Error("the file outside was touched")
	}
	if _, err := in.Image(ok); err != nil {
		t.Errorf("the good sample: %v", err)
	}
}
