package tfliteengine

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTypeCodesMatchHeader checks the engine's TfLiteType tables against
// the enum in the TFLite 2.9.0 header c_api_types.h: every code has the
// header's name (kTfLiteUInt8 -> "uint8"), and every code mapped to an
// infer.DType is mapped to the type of that name.
func TestTypeCodesMatchHeader(t *testing.T) {
	path := filepath.Join(repoRoot(t), "third_party", "tflite", "include", "tensorflow", "lite", "c", "c_api_types.h")
	src, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && os.Getenv("CI") == "" {
			t.Skipf("TFLite headers not fetched (make tflite-lib): %v", err)
		}
		t.Fatal(err)
	}
	enum := regexp.MustCompile(`(?s)typedef enum \{([^}]*)\} TfLiteType;`).FindSubmatch(src)
	if enum == nil {
		t.Fatalf("%s: no TfLiteType enum", path)
	}
	entries := regexp.MustCompile(`kTfLite(\w+)\s*=\s*(\d+)`).FindAllSubmatch(enum[1], -1)
	if len(entries) < 10 {
		t.Fatalf("%s: only %d TfLiteType entries parsed", path, len(entries))
	}
	for _, e := range entries {
		name := strings.ToLower(string(e[1]))
		code, _ := strconv.Atoi(string(e[2]))
		if got := typeNames[code]; got != name {
			t.Errorf("TfLiteType %d: engine calls it %q, the header %q", code, got, name)
		}
		if d, ok := dtypes[code]; ok && d.String() != name {
			t.Errorf("TfLiteType %d (%s) maps to infer.%v", code, name, d)
		}
	}
	if len(typeNames) != len(entries) {
		t.Errorf("engine names %d type codes, the header has %d", len(typeNames), len(entries))
	}
}
