//go:build !cgo

package tflite

import (
	"errors"
	"testing"
)

func TestOpenWithoutCgo(t *testing.T) {
	if _, err := Open("libtensorflowlite_c.so"); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("got %v, want ErrNoCgo", err)
	}
}
