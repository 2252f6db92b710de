package pipeline

import (
	"bytes"
	"context"
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/infertest"
	"github.com/edged-io/edged/internal/testenv"
)

// renamedModel writes a copy of the default model whose metadata name is
// changed in place (same length): the same network, another file, another
// sha256.
func renamedModel(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("EfficientNet-Lite0 ImageNet int8")
	if bytes.Count(data, old) != 1 {
		t.Fatalf("the default model's metadata name %q is not there once", old)
	}
	path := filepath.Join(t.TempDir(), "renamed.tflite")
	if err := os.WriteFile(path, bytes.Replace(data, old, []byte("EfficientNet-Lite0 ImageNet INT8"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls the recorder until it holds n results.
// applyOne prepares u for camera c, checks that it changes c alone,
// applies it and waits for n more results. It returns how many results
// had come before.
func applyOne(t *testing.T, p *Pipeline, rec *recorder, u CameraUpdate, n int) int {
	t.Helper()
	s, err := p.Prepare(map[string]CameraUpdate{"c": u})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Changed(); len(c) != 1 || c[0] != "c" {
		t.Errorf("changed %v, want [c]", c)
	}
	if err := s.Apply(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	at := len(rec.got)
	rec.mu.Unlock()
	rec.waitFor(t, at+n)
	return at
}

func (r *recorder) waitFor(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		got := len(r.got)
		r.mu.Unlock()
		if got >= n {
			return
		}
	}
	t.Fatalf("fewer than %d results after 60s", n)
}

// TestSwapBetweenFrames: a running camera is switched to another model
// with another top-k. Every result comes wholly from one model (its sha
// and its number of labels agree: no frame is half-processed across the
// swap), the old model's results all come before the new model's, and the
// new publish filter (top-k from the new model) applies from the first
// result of the new model on.
func TestSwapBetweenFrames(t *testing.T) {
	e := engine(t)
	a, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "m", Path: defaultModel, Options: infer.Options{Threads: 1}, Post: infer.PostConfig{TopK: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "m", Path: renamedModel(t), Options: infer.Options{Threads: 1}, Post: infer.PostConfig{TopK: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Ref.SHA256 == b.Ref.SHA256 {
		t.Fatalf("both models have sha %s", a.Ref.SHA256)
	}
	rec := &recorder{}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", video(t, 10, "orange.jpg"), true, a)}, Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	rec.waitFor(t, 20)

	// Swapping to the model the camera runs, with the same settings, is no
	// change at all.
	s, err := p.Prepare(map[string]CameraUpdate{"c": {Model: a}})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Changed(); len(c) != 0 {
		t.Errorf("an identical update changes %v", c)
	}
	s.Discard()

	applyOne(t, p, rec, CameraUpdate{Model: b}, 30)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seenB := 0
	for i, r := range rec.got {
		switch {
		case r.Model.SHA256 == a.Ref.SHA256 && len(r.Labels) == 3:
			if seenB > 0 {
				t.Fatalf("result %d from the old model after %d from the new one", i, seenB)
			}
		case r.Model.SHA256 == b.Ref.SHA256 && len(r.Labels) == 2:
			seenB++
		default:
			t.Fatalf("result %d: model %s with %d labels: mixes the two models", i, r.Model.SHA256, len(r.Labels))
		}
		if r.Labels[0].Label != "orange" {
			t.Fatalf("result %d: top-1 %+v, want orange", i, r.Labels[0])
		}
	}
	if seenB < 10 {
		t.Errorf("%d results from the new model, want at least 10", seenB)
	}
}

// TestPrepareRejects: a model with another input size, or an unknown
// camera, is refused and the running camera keeps its model.
func TestPrepareRejects(t *testing.T) {
	e := engine(t)
	a, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "m", Path: defaultModel, Post: infer.PostConfig{TopK: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	face := testenv.ConformanceModel(t, "face_detection_short_range.tflite")
	other, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "face", Path: face, Output: "classificators"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rec := &recorder{}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", video(t, 3, "orange.jpg"), false, a)}, Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Prepare(map[string]CameraUpdate{"c": {Model: other}}); err == nil ||
		!strings.Contains(err.Error(), "128x128") || !strings.Contains(err.Error(), "restart") {
		t.Errorf("another input size: %v", err)
	}
	if _, err := p.Prepare(map[string]CameraUpdate{"nope": {Model: a}}); err == nil || !strings.Contains(err.Error(), `camera "nope"`) {
		t.Errorf("unknown camera: %v", err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.got {
		if r.Model.SHA256 != a.Ref.SHA256 {
			t.Fatalf("result from model %s after a rejected swap", r.Model.SHA256)
		}
	}
	if len(rec.got) != 3 {
		t.Errorf("%d results, want 3", len(rec.got))
	}
}

// TestRestartWithRegions: a running camera is restarted with regions (what
// the live view's region editor applies) through Prepare and Apply. Run
// keeps going across the swap, the whole-frame results stop, each
// region's results follow, and a spec naming another camera is refused
// with the running one untouched.
func TestRestartWithRegions(t *testing.T) {
	e := &infertest.Engine{Script: dominant}
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Post: infer.PostConfig{TopK: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	red, blue := color.RGBA{R: 250}, color.RGBA{B: 250}
	dir := halvesFolder(t, [][2]color.RGBA{{red, blue}, {red, blue}, {red, blue}})
	rec := &recorder{}
	p, err := New(Options{Cameras: []CameraSpec{cameraSpec("c", dir, true, m)}, Sink: rec, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	rec.waitFor(t, 10)

	bad := cameraSpec("elsewhere", dir, true, m)
	if _, err := p.Prepare(map[string]CameraUpdate{"c": {Restart: &bad}}); err == nil || !strings.Contains(err.Error(), `"elsewhere"`) {
		t.Errorf("restarting with another camera's spec: %v", err)
	}
	spec := cameraSpec("c", dir, true, m)
	spec.Regions = regions(m, Trigger{Mode: Every})
	applyOne(t, p, rec, CameraUpdate{Restart: &spec}, 20)
	select {
	case err := <-done:
		t.Fatalf("Run returned across the restart: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := map[string]string{} // region -> top label
	for i, r := range rec.got {
		if r.Region == "" {
			if len(seen) > 0 {
				t.Fatalf("result %d for the whole frame after the regions' results", i)
			}
			continue
		}
		seen[r.Region] = r.Labels[0].Label
	}
	// The default model's metadata names class 0 for red, 2 for blue.
	if seen["left"] != m.Labels[0] || seen["right"] != m.Labels[2] {
		t.Errorf("regions' top labels %v, want left %q and right %q", seen, m.Labels[0], m.Labels[2])
	}
}
