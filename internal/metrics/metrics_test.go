package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestExposition(t *testing.T) {
	m := New(BuildInfo{Version: "1.2.3"})
	m.Engine("tflite", "/usr/lib/edged/libtensorflowlite_c.so")
	m.ModelLoaded("default", "/m/a.tflite", "aaaaaaaaaaaa", 150*time.Millisecond)
	m.ModelLoaded("default", "/m/b.tflite", "bbbbbbbbbbbb", 250*time.Millisecond) // a reload replaces the info
	m.Reloaded(true)
	m.Reloaded(false)
	m.Reloaded(true)
	c := m.Camera("door")
	c.Inferred.Inc()
	c.Inferred.Inc()
	c.Published.Inc()
	Observe(c.Infer, 4*time.Millisecond)
	m.WatchCameras(func() map[string]result.Status {
		return map[string]result.Status{"door": {State: "reconnecting", Captured: 10, Dropped: 3, Reconnects: 2}}
	})
	out := scrape(t, m)
	for _, want := range []string{
		`edged_build_info{goversion="go`,
		`version="1.2.3"} 1`,
		`edged_engine_info{engine="tflite",library="/usr/lib/edged/libtensorflowlite_c.so"} 1`,
		`edged_model_load_seconds{model="default"} 0.25`,
		`edged_model_info{model="default",path="/m/b.tflite",sha256="bbbbbbbbbbbb"} 1`,
		`edged_frames_inferred_total{camera="door"} 2`,
		`edged_reloads_total{result="applied"} 2`,
		`edged_reloads_total{result="rejected"} 1`,
		`edged_results_published_total{camera="door"} 1`,
		`edged_stage_duration_seconds_bucket{camera="door",stage="infer",le="0.005"} 1`,
		`edged_stage_duration_seconds_bucket{camera="door",stage="infer",le="0.003"} 0`,
		`edged_frames_captured_total{camera="door"} 10`,
		`edged_frames_dropped_total{camera="door"} 3`,
		`edged_camera_reconnects_total{camera="door"} 2`,
		`edged_camera_state{camera="door",state="reconnecting"} 1`,
		`edged_camera_state{camera="door",state="streaming"} 0`,
		`process_resident_memory_bytes`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(out, `path="/m/a.tflite"`) {
		t.Errorf("the replaced model's info is still exported")
	}
}

// The per-frame calls the pipeline makes must not allocate.
func TestCameraHotPathAllocs(t *testing.T) {
	c := New(BuildInfo{}).Camera("a")
	n := testing.AllocsPerRun(100, func() {
		c.Inferred.Inc()
		Observe(c.Capture, time.Millisecond)
		Observe(c.Total, 3*time.Millisecond)
	})
	if n != 0 {
		t.Fatalf("per-frame metric updates allocate %v times, want 0", n)
	}
}
