package modelfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The TFLite metadata and its appended zip are parsers of outside input in
// their own right, but FuzzParse reaches them only through a well-formed
// model. These fuzz tests feed them directly; their committed seeds
// (testdata/fuzz/FuzzMetadata, FuzzZipLabels) are the default model's
// ModelMetadata flatbuffer and labels zip, whole and cut short.

// defaultModelParts returns the default model's ModelMetadata flatbuffer
// and the zip archive appended to it.
func defaultModelParts(t testing.TB) (metadata, archive []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "models", "efficientnet_lite0_int8.tflite"))
	if err != nil {
		if os.IsNotExist(err) && os.Getenv("CI") == "" {
			t.Skipf("default model not built: %v", err)
		}
		t.Fatal(err)
	}
	// The metadata buffer is a byte vector whose contents start 4 bytes
	// before the "M001" file identifier; its length precedes it.
	i := bytes.Index(data, []byte("M001"))
	if i < 8 {
		t.Fatal("default model: no M001 metadata")
	}
	n := int(binary.LittleEndian.Uint32(data[i-8:]))
	metadata = data[i-4 : i-4+n]
	// The zip starts at the first local file header after the flatbuffer.
	z := bytes.LastIndex(data, []byte("PK\x03\x04"))
	if z < 0 {
		t.Fatal("default model: no zip archive")
	}
	return metadata, data[z:]
}

func TestDefaultModelParts(t *testing.T) {
	md, archive := defaultModelParts(t)
	name, labels := readMetadata(md)
	if name == "" || labels != "labels.txt" {
		t.Errorf("metadata names model %q and labels file %q, want a name and labels.txt", name, labels)
	}
	got, err := readZipLabels(archive, labels)
	if err != nil || len(got) != 1000 || got[812] != "space shuttle" {
		t.Errorf("%d labels from the zip alone (label 812 %q), want 1000 with 812 space shuttle", len(got), at(got, 812))
	}
	// Cut short, neither gives anything, and neither panics.
	for _, n := range []int{0, 4, 8, len(md) / 4, len(md) / 2} {
		if name, labels := readMetadata(md[:n]); labels != "" {
			t.Errorf("metadata cut to %d bytes still names labels file %q (model %q)", n, labels, name)
		}
	}
	for _, n := range []int{0, 22, len(archive) / 2, len(archive) - 1} {
		if got, err := readZipLabels(archive[:n], labels); got != nil || err == nil {
			t.Errorf("zip cut to %d bytes gave %d labels and no error", n, len(got))
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// TestZipLabelsLimits checks that a labels file claiming more than 16 MiB
// is not read, and that one that merely lies about its size cannot make
// the reader go past the limit.
func TestZipLabelsLimits(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("labels.txt")
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for i := 0; i < 17<<10; i++ { // 17 MiB of labels, deflated to a few KiB
		w.Write(line)
	}
	small, _ := zw.Create("small.txt")
	small.Write([]byte("cat\r\ndog\n\n"))
	zw.Close()
	if got, err := readZipLabels(b.Bytes(), "labels.txt"); got != nil || err == nil {
		t.Errorf("read %d labels from a 17 MiB labels file, want none and an error", len(got))
	}
	if got, err := readZipLabels(b.Bytes(), "small.txt"); err != nil || strings.Join(got, ",") != "cat,dog" {
		t.Errorf("small.txt gave %q (%v), want [cat dog]", got, err)
	}
	if got, err := readZipLabels(b.Bytes(), "absent.txt"); got != nil || err == nil {
		t.Errorf("absent file gave %q and no error", got)
	}
}

func FuzzMetadata(f *testing.F) {
	f.Add([]byte("\x0c\x00\x00\x00M001"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		name, labels := readMetadata(raw)
		if len(name) > len(raw) || len(labels) > len(raw) {
			t.Fatalf("strings of %d and %d bytes from %d bytes of metadata", len(name), len(labels), len(raw))
		}
		if name2, labels2 := readMetadata(raw); name2 != name || labels2 != labels {
			t.Fatal("readMetadata is not deterministic")
		}
	})
}

func FuzzZipLabels(f *testing.F) {
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "labels.txt")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		labels, _ := readZipLabels(data, name)
		total := 0
		for _, l := range labels {
			if strings.ContainsAny(l, "\n") || l != strings.TrimSpace(l) {
				t.Fatalf("label %q is not one trimmed line", l)
			}
			total += len(l)
		}
		if total > 16<<20 {
			t.Fatalf("%d bytes of labels, more than the 16 MiB limit", total)
		}
	})
}
