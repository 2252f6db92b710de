package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/tfliteengine"
	"github.com/edged-io/edged/internal/testenv"
)

func engine(t testing.TB) infer.Engine {
	t.Helper()
	e, err := tfliteengine.Open(testenv.Library(t, "tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const defaultModel = "../../models/efficientnet_lite0_int8.tflite"

func TestLoadModelLabels(t *testing.T) {
	e := engine(t)
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "d", Path: defaultModel})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Labels) != 1000 || m.Labels[812] != "space shuttle" || len(m.Ref.SHA256) != 12 {
		t.Errorf("labels %d, ref %+v", len(m.Labels), m.Ref)
	}
	dir := t.TempDir()
	short := filepath.Join(dir, "labels.txt")
	os.WriteFile(short, []byte("cat\ndog\n\n"), 0o644)
	_, err = LoadModel(infer.NewRegistry(e), ModelSpec{Name: "d", Path: defaultModel, LabelsPath: short})
	if err == nil || !strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "2 labels") || !strings.Contains(err.Error(), "1000 classes") {
		t.Errorf("got %v, want an error naming %s, 2 labels and 1000 classes", err, short)
	}
	_, err = LoadModel(infer.NewRegistry(e), ModelSpec{Name: "d", Path: filepath.Join(dir, "missing.tflite")})
	if err == nil || !strings.Contains(err.Error(), "missing.tflite") {
		t.Errorf("missing model: %v", err)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels(strings.NewReader("a\r\n b \nc\n\n\n"))
	if err != nil || strings.Join(got, "|") != "a|b|c" {
		t.Errorf("got %q %v", got, err)
	}
	if _, err := parseLabels(strings.NewReader("\n\n")); err == nil {
		t.Error("empty labels accepted")
	}
}

// TestParseLabelsRoughEdges: a UTF-8 byte-order mark does not stick to the
// first label, a blank line among the labels is an error naming its line
// (it would publish ""), and an over-long line names its line too.
func TestParseLabelsRoughEdges(t *testing.T) {
	if got, err := parseLabels(strings.NewReader("\ufeffcat\ndog\n")); err != nil || strings.Join(got, "|") != "cat|dog" {
		t.Errorf("BOM: %q %v, want cat|dog", got, err)
	}
	if _, err := parseLabels(strings.NewReader("cat\n\ndog\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("blank line: %v, want an error naming line 2", err)
	}
	long := "cat\ndog\n" + strings.Repeat("x", MaxLabelLen+10) + "\n"
	if _, err := parseLabels(strings.NewReader(long)); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("long line: %v, want an error naming line 3", err)
	}
}
