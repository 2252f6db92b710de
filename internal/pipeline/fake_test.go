package pipeline

import (
	"context"
	"image/color"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/infertest"
	"github.com/edged-io/edged/internal/testenv"
)

// colourFolder writes one solid-colour JPEG per colour (named 00.jpg,
// 01.jpg, ...) into a new folder and returns it.
func colourFolder(t *testing.T, colours ...color.RGBA) string {
	t.Helper()
	dir := t.TempDir()
	for i, c := range colours {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), 120, 160, gocv.MatTypeCV8UC3)
		if !gocv.IMWrite(filepath.Join(dir, string(rune('0'+i/10))+string(rune('0'+i%10))+".jpg"), m) {
			t.Fatal("IMWrite failed")
		}
		m.Close()
	}
	return dir
}

// dominant scores class 0, 1 or 2 for a red, green or blue input (RGB
// input tensor), by the mean of each channel.
func dominant(in infertest.Invocation) ([]float32, time.Duration, error) {
	var sum [3]int
	for i, b := range in.Input {
		sum[i%3] += int(b)
	}
	best := 0
	for c := range sum {
		if sum[c] > sum[best] {
			best = c
		}
	}
	scores := make([]float32, 1000)
	scores[best] = 0.9
	return scores, 2 * time.Millisecond, nil
}

// TestPipelineWithFakeEngine: the pipeline's own logic (pacing, labels
// from the model's metadata, latencies, results reused across frames)
// with a scripted engine, no native runtime: every photo of a folder
// arrives in order with the class its colour scores.
func TestPipelineWithFakeEngine(t *testing.T) {
	e := &infertest.Engine{Script: dominant}
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Post: infer.PostConfig{TopK: 3}})
	if err != nil {
		t.Fatal(err)
	}
	red, green, blue := color.RGBA{R: 250}, color.RGBA{G: 250}, color.RGBA{B: 250}
	dir := colourFolder(t, red, green, blue, blue, red)
	rec := &recorder{}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", dir, false, m)}, Sink: rec, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	m.Close()
	// The default model's metadata names classes 0, 1 and 2.
	want := []string{m.Labels[0], m.Labels[1], m.Labels[2], m.Labels[2], m.Labels[0]}
	if len(rec.got) != len(want) {
		t.Fatalf("%d results, want %d", len(rec.got), len(want))
	}
	for i, r := range rec.got {
		if r.Labels[0].Label != want[i] || r.Labels[0].Score < 0.85 {
			t.Errorf("photo %d: top %+v, want %q at 0.9", i, r.Labels[0], want[i])
		}
		if r.Frame != uint64(i+1) || r.Latency.Infer < 2*time.Millisecond {
			t.Errorf("photo %d: frame %d, infer latency %v; want frame %d and at least the scripted 2ms", i, r.Frame, r.Latency.Infer, i+1)
		}
	}
	if s := e.Stats(); s.Loads != 1 || s.Open != 0 || s.Invokes < len(want) {
		t.Errorf("engine %+v: want one load, closed at the end, an invoke per photo (and the warm-up)", s)
	}
}

// TestMultiOutputModelRefused: a model with several outputs (MediaPipe's
// hand landmarks: four) is not taken for a classifier unless the
// configuration names the score output, by name or index; an output it
// lacks is an error listing those it has.
func TestMultiOutputModelRefused(t *testing.T) {
	path := testenv.ConformanceModel(t, "hand_landmark_lite.tflite")
	reg := infer.NewRegistry(&infertest.Engine{})
	_, err := LoadModel(reg, ModelSpec{Name: "hands", Path: path})
	if err == nil || !strings.Contains(err.Error(), "4 outputs") || !strings.Contains(err.Error(), "models[].output") {
		t.Fatalf("LoadModel without output: %v, want a refusal naming the 4 outputs and models[].output", err)
	}
	for _, tc := range []struct {
		output string
		want   int
	}{{"Identity_3", 3}, {"1", 1}} {
		m, err := LoadModel(reg, ModelSpec{Name: "hands", Path: path, Output: tc.output})
		if err != nil {
			t.Fatalf("output %q: %v", tc.output, err)
		}
		if m.Out != tc.want {
			t.Errorf("output %q: index %d, want %d", tc.output, m.Out, tc.want)
		}
		m.Close()
	}
	if _, err := LoadModel(reg, ModelSpec{Name: "hands", Path: path, Output: "scores"}); err == nil || !strings.Contains(err.Error(), `"Identity_1"`) {
		t.Errorf("unknown output: %v, want an error listing the outputs", err)
	}
}
