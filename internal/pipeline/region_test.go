package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/infertest"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samples"
)

// halvesFolder writes one JPEG per pair of colours: the left half in the
// first, the right half in the second.
func halvesFolder(t *testing.T, pairs [][2]color.RGBA) string {
	t.Helper()
	dir := t.TempDir()
	for i, p := range pairs {
		m := gocv.NewMatWithSize(120, 320, gocv.MatTypeCV8UC3)
		for half, c := range p {
			roi := m.Region(image.Rect(half*160, 0, half*160+160, 120))
			roi.SetTo(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0))
			roi.Close()
		}
		if !gocv.IMWrite(filepath.Join(dir, fmt.Sprintf("%03d.jpg", i)), m) {
			t.Fatal("IMWrite failed")
		}
		m.Close()
	}
	return dir
}

type stateRecorder struct {
	mu  sync.Mutex
	got []StateChange
}

func (s *stateRecorder) PublishState(_ context.Context, c StateChange) error {
	s.mu.Lock()
	s.got = append(s.got, c)
	s.mu.Unlock()
	return nil
}

func regions(m *Model, right Trigger) []RegionSpec {
	half := func(x float64) preprocess.Box {
		return preprocess.Box{X: preprocess.Coord{V: x, Frac: true}, Y: preprocess.Coord{V: 0, Frac: true},
			W: preprocess.Coord{V: 0.5, Frac: true}, H: preprocess.Coord{V: 1.0, Frac: true}}
	}
	return []RegionSpec{
		{Name: "left", Box: half(0), Model: m, Trigger: Trigger{Mode: Every}, Confirm: 3, MinScore: 0.5},
		{Name: "right", Box: half(0.5), Model: m, Trigger: right, Confirm: 3, MinScore: 0.5},
	}
}

// TestRegionStates: two regions cut from one frame, each with its own
// state: a label becomes the state after exactly confirm results in a
// row, each change is reported once with the old state, and a motion-gated
// region on a still half is inferred once (no heartbeat falls due).
func TestRegionStates(t *testing.T) {
	e := &infertest.Engine{Script: dominant}
	m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Post: infer.PostConfig{TopK: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	red, green, blue := color.RGBA{R: 250}, color.RGBA{G: 250}, color.RGBA{B: 250}
	var pairs [][2]color.RGBA
	for i := range 10 {
		left := red
		if i >= 5 {
			left = green
		}
		pairs = append(pairs, [2]color.RGBA{left, blue})
	}
	spec := cameraSpec("c", halvesFolder(t, pairs), false, m)
	spec.Regions = regions(m, Trigger{Mode: Motion, Threshold: 12, MinArea: 0.02, Heartbeat: time.Hour})
	lim := samples.Limits{MaxCount: 100}
	spec.Regions[0].Samples = Samples{When: []string{samples.StateChange}, Limits: lim}
	spec.Regions[1].Samples = Samples{When: []string{samples.Interval}, Interval: time.Hour, Limits: lim}
	keeper := samples.New(t.TempDir(), slog.New(slog.DiscardHandler))
	rec, states := &recorder{}, &stateRecorder{}
	p, err := New(Options{Cameras: []CameraSpec{spec}, Sink: rec, States: states, Samples: keeper, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kctx, stopKeeper := context.WithCancel(ctx)
	keeperDone := make(chan struct{})
	go func() { keeper.Run(kctx); close(keeperDone) }()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	stopKeeper()
	<-keeperDone
	// Samples: left kept the crops of its two state changes, right its
	// first crop (once an hour).
	for region, want := range map[string][]string{"left": {m.Labels[0], m.Labels[1]}, "right": {m.Labels[2]}} {
		names, err := samples.List(keeper.Folder("c", region))
		if err != nil || len(names) != len(want) {
			t.Fatalf("%s: samples %v %v, want %d", region, names, err, len(want))
		}
		for i, n := range names {
			var side samples.Sidecar
			data, _ := os.ReadFile(filepath.Join(keeper.Folder("c", region), n+".json"))
			if err := json.Unmarshal(data, &side); err != nil || side.Labels[0].Label != want[i] {
				t.Errorf("%s sample %d: %+v %v, want top label %q", region, i, side, err, want[i])
			}
		}
	}
	perRegion := map[string][]result.Result{}
	for _, r := range rec.got {
		perRegion[r.Region] = append(perRegion[r.Region], r)
	}
	if n := len(perRegion["left"]); n != 10 {
		t.Errorf("left: %d results, want one per frame (10)", n)
	}
	if n := len(perRegion["right"]); n != 3 {
		t.Errorf("right (motion-gated, still): %d results, want 3 (the first frame and the run that confirms it)", n)
	}
	type change struct{ region, from, to string }
	var got []change
	for _, c := range states.got {
		got = append(got, change{c.Region, c.From.Label, c.To.Label})
	}
	want := []change{{"left", Unknown, m.Labels[0]}, {"right", Unknown, m.Labels[2]}, {"left", m.Labels[0], m.Labels[1]}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("state changes %v, want %v", got, want)
	}
	// The first change is confirmed by frame 3, the second by frame 8
	// (green from frame 6, three in a row).
	if f := states.got[0].To.Since; !f.Equal(perRegion["left"][2].Captured) {
		t.Errorf("first state since %v, want frame 3's capture %v", f, perRegion["left"][2].Captured)
	}
	if f := states.got[2].To.Since; !f.Equal(perRegion["left"][7].Captured) {
		t.Errorf("second state since %v, want frame 8's capture %v", f, perRegion["left"][7].Captured)
	}
	if s := states.got[2].To.Seq; s != 2 {
		t.Errorf("second change has seq %d, want 2", s)
	}
	st := p.RegionStates()["c"]
	if st["right"].Label != m.Labels[2] || st["left"].Label != m.Labels[1] {
		t.Errorf("final states %+v: want left %q and right %q", st, m.Labels[1], m.Labels[2])
	}
}

// TestRegionsBatched: regions on one model go through one invoke when the
// runtime takes a batch and it is faster (the fake's batch costs one
// image's latency); each region still gets its own crop's label.
func TestRegionsBatched(t *testing.T) {
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			e := &infertest.Engine{Script: dominant, Batch: batch}
			m, err := LoadModel(infer.NewRegistry(e), ModelSpec{Name: "default", Path: defaultModel, Post: infer.PostConfig{TopK: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			red, blue := color.RGBA{R: 250}, color.RGBA{B: 250}
			spec := cameraSpec("c", halvesFolder(t, [][2]color.RGBA{{red, blue}, {blue, red}, {red, blue}}), false, m)
			spec.Regions = regions(m, Trigger{Mode: Every})
			rec := &recorder{}
			p, err := New(Options{Cameras: []CameraSpec{spec}, Sink: rec, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			before := e.Stats()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Run(ctx); err != nil {
				t.Fatal(err)
			}
			p.Close()
			after := e.Stats()
			if len(rec.got) != 6 {
				t.Fatalf("%d results, want 6 (two regions × three frames)", len(rec.got))
			}
			for _, r := range rec.got {
				want := m.Labels[0]
				if (r.Region == "right") == (r.Frame != 2) {
					want = m.Labels[2]
				}
				if r.Top() != want {
					t.Errorf("frame %d %s: %q, want %q", r.Frame, r.Region, r.Top(), want)
				}
			}
			invokes := after.Invokes - before.Invokes
			if batch && invokes != 3 {
				t.Errorf("batched: %d invokes for 3 frames, want 3", invokes)
			}
			if !batch && invokes != 6 {
				t.Errorf("one by one: %d invokes for 3 frames, want 6", invokes)
			}
		})
	}
}

func TestTracker(t *testing.T) {
	tr := newTracker(2, 0.5, State{})
	res := func(label string, score float32) *result.Result {
		return &result.Result{Labels: []result.Label{{Label: label, Score: score}}, Captured: time.Unix(int64(len(label)), 0)}
	}
	steps := []struct {
		label   string
		score   float32
		changed bool
	}{
		{"a", 0.9, false}, {"a", 0.9, true}, // a after two
		{"b", 0.9, false}, {"a", 0.9, false}, {"b", 0.9, false}, // a lone b changes nothing
		{"b", 0.4, false}, {"b", 0.9, false}, // a low score breaks the run
		{"b", 0.9, true},
	}
	for i, s := range steps {
		if _, changed := tr.observe(res(s.label, s.score)); changed != s.changed {
			t.Errorf("step %d (%s %.1f): changed %v, want %v", i, s.label, s.score, changed, s.changed)
		}
	}
	if tr.cur.Label != "b" || tr.cur.Seq != 2 {
		t.Errorf("state %+v, want b with seq 2", tr.cur)
	}
}
