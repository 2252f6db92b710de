package tfliteengine

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/testenv"
)

// TestTypeCodesMatchHeader checks the TfLiteType table (infer.TFLiteType,
// shared with the LiteRT engine) against the enum in the TFLite 2.9.0
// header c_api_types.h: every code has the header's name (kTfLiteUInt8 ->
// "uint8"), and every code mapped to an infer.DType is mapped to the type
// of that name. Beyond the header's codes the table names only LiteRT
// 2.2's later ones (litert_model_types.h).
func TestTypeCodesMatchHeader(t *testing.T) {
	path := filepath.Join(testenv.Root(t), "third_party", "tflite", "include", "tensorflow", "lite", "c", "c_api_types.h")
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
		d, got := infer.TFLiteType(code)
		if got != name {
			t.Errorf("TfLiteType %d: engine calls it %q, the header %q", code, got, name)
		}
		if d != infer.DTypeOther && d.String() != name {
			t.Errorf("TfLiteType %d (%s) maps to infer.%v", code, name, d)
		}
	}
	later := []string{"uint16", "int4", "bfloat16"} // LiteRtElementType 17-19
	for i, want := range append(later, "type_20") {
		if _, got := infer.TFLiteType(len(entries) + i); got != want {
			t.Errorf("code %d beyond the header: %q, want %q", len(entries)+i, got, want)
		}
	}
}
