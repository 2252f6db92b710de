package engines

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

func libs(t *testing.T) (tfl, lrt string) {
	t.Helper()
	return testenv.Library(t, "tflite"), testenv.Library(t, "litert")
}

func TestChoice(t *testing.T) {
	tfl, lrt := libs(t)
	missing := filepath.Join(t.TempDir(), "libLiteRt.so")
	cases := []struct {
		o    Options
		want string // engine name prefix, or "error: ..." substring
	}{
		{Options{Choice: "auto", TFLiteLib: tfl, LiteRTLib: lrt, Arch: "amd64"}, "litert"},
		{Options{Choice: "", TFLiteLib: tfl, LiteRTLib: lrt, NoXNNPACK: true, Arch: "amd64"}, "tflite"},
		{Options{Choice: "auto", TFLiteLib: tfl, LiteRTLib: missing, Arch: "amd64"}, "tflite"},
		{Options{Choice: "auto", TFLiteLib: tfl, LiteRTLib: lrt, Arch: "arm64"}, "tflite"}, // LiteRT unverified there
		{Options{Choice: "tflite", TFLiteLib: tfl, LiteRTLib: lrt}, "tflite"},
		{Options{Choice: "litert", TFLiteLib: tfl, LiteRTLib: lrt}, "litert"},
		{Options{Choice: "litert", TFLiteLib: tfl, LiteRTLib: missing}, "error: make litert-lib"},
		{Options{Choice: "onnx"}, "error: want auto, tflite or litert"},
	}
	for _, c := range cases {
		e, err := Open(c.o)
		if want, ok := strings.CutPrefix(c.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%+v: %v, want an error containing %q", c.o, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c.o, err)
			continue
		}
		if !strings.HasPrefix(e.Name(), c.want) {
			t.Errorf("%+v: opened %s, want %s", c.o, e.Name(), c.want)
		}
	}
}
