package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mjpegtest"
	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/samplevideo"
)

// soakSample is one reading of the daemon's resources.
type soakSample struct {
	T        float64 `json:"t_s"` // seconds since the start
	RSSKiB   int64   `json:"rss_kib"`
	FDs      int     `json:"fds"`
	Inferred float64 `json:"inferred"` // frames inferred, all cameras
}

// soakReport is what build/soak/report.json holds.
type soakReport struct {
	Minutes          float64      `json:"minutes"`
	WarmupMinutes    float64      `json:"warmup_minutes"`
	SampleEvery      string       `json:"sample_every"`
	RSSSlopeMiBPerH  float64      `json:"rss_slope_mib_per_hour"`
	FDSlopePerH      float64      `json:"fd_slope_per_hour"`
	RSSToleranceMiBH float64      `json:"rss_tolerance_mib_per_hour"`
	FDTolerancePerH  float64      `json:"fd_tolerance_per_hour"`
	RSSMiBFirst      float64      `json:"rss_mib_after_warmup"`
	RSSMiBLast       float64      `json:"rss_mib_last"`
	RSSMiBMax        float64      `json:"rss_mib_max"`
	FDsMax           int          `json:"fds_max"`
	Inferred         float64      `json:"frames_inferred"`
	Results          int          `json:"results_received"`
	StreamOutages    int          `json:"stream_outages"`
	Reconnects       float64      `json:"stream_reconnects"`
	DecodeErrors     float64      `json:"folder_decode_errors"`
	Pass             bool         `json:"pass"`
	Samples          []soakSample `json:"samples"`
}

// slopePerHour fits y = a + b·t by least squares (t in seconds) and returns
// b per hour.
func slopePerHour(t, y []float64) float64 {
	n := float64(len(t))
	var st, sy, stt, sty float64
	for i := range t {
		st += t[i]
		sy += y[i]
		stt += t[i] * t[i]
		sty += t[i] * y[i]
	}
	d := n*stt - st*st
	if n < 2 || d == 0 {
		return 0
	}
	return (n*sty - st*sy) / d * 3600
}

func TestSlopePerHour(t *testing.T) {
	ts := []float64{0, 60, 120, 180}
	if s := slopePerHour(ts, []float64{10, 11, 12, 13}); s < 59.999 || s > 60.001 {
		t.Errorf("slope of one per minute = %v per hour, want 60", s)
	}
	if s := slopePerHour(ts, []float64{5, 7, 5, 7}); s < 0 || s > 61 {
		t.Errorf("slope of a flat zig-zag = %v", s)
	}
}

// procSample reads a process's resident set (KiB) and open descriptors.
func procSample(pid int) (int64, int, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var rss int64 = -1
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
		}
	}
	if rss < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, err
	}
	return rss, len(fds), nil
}

func envFloat(t *testing.T, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return f
}

// TestSoak runs edged on three cameras (a looping video, a looping folder
// with images of several sizes and a corrupt one, and an MJPEG stream that
// goes down for a few seconds every two minutes) against a real mosquitto,
// samples its RSS and open descriptors from /proc, and fits their trend
// after a warm-up. `make soak` runs it for SOAK_MINUTES (default 20) and
// writes SOAK_REPORT; without SOAK_MINUTES it is a short smoke run that only
// checks the daemon keeps working and the sampling reads sane values.
func TestSoak(t *testing.T) {
	minutes := envFloat(t, "SOAK_MINUTES", 0)
	long := minutes > 0
	if !long {
		minutes = 0.25
	}
	warmup := envFloat(t, "SOAK_WARMUP_MINUTES", minutes/4)
	rssTol := envFloat(t, "SOAK_RSS_MIB_PER_HOUR", 24)
	fdTol := envFloat(t, "SOAK_FDS_PER_HOUR", 6)
	every := 5 * time.Second
	if !long {
		every = time.Second
	}

	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/soak/+/result")
	dir := t.TempDir()
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "space_shuttle.jpg"), photo(t, "orange.jpg"), photo(t, "baboon.jpg")},
		samplevideo.Options{Width: 320, Height: 240, FPS: 5, FramesPerPhoto: 4}); err != nil {
		t.Fatal(err)
	}
	imgs := filepath.Join(dir, "imgs")
	os.Mkdir(imgs, 0o755)
	for _, name := range []string{"apple.jpg", "baboon.jpg", "fruits.jpg", "HappyFish.jpg", "butterfly.jpg"} {
		data, err := os.ReadFile(photo(t, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(imgs, name), data, 0o644)
	}
	os.WriteFile(filepath.Join(imgs, "zz-corrupt.jpg"), []byte("\xff\xd8\xff\xe0 not really a JPEG"), 0o644)
	jpeg, err := os.ReadFile(photo(t, "orange.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	stream := mjpegtest.Start(t, jpeg)
	cfg := fmt.Sprintf(`device: soak
http: {addr: "127.0.0.1:0"}
broker: {url: %s}
cameras:
  - {name: video, source: %s, loop: true, fps: 8}
  - {name: folder, source: %s, loop: true, fps: 4}
  - {name: stream, source: %s, fps: 8, reconnect: {initial: 200ms, max: 1s}}
`, b.URL(), video, imgs, stream.URL)
	path := filepath.Join(dir, "edged.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)

	total := time.Duration(minutes * float64(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), total+2*time.Minute)
	defer cancel()
	cmd, stderr := start(t, ctx, nil, "run", "--config", path)
	base := "http://" + httpAddr(t, stderr)
	pid := cmd.Process.Pid

	rep := soakReport{Minutes: minutes, WarmupMinutes: warmup, SampleEvery: every.String(), RSSToleranceMiBH: rssTol, FDTolerancePerH: fdTol}
	start := time.Now()
	nextOutage := 2 * time.Minute
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Since(start) < total {
		<-tick.C
		if long && time.Since(start) >= nextOutage {
			nextOutage += 2 * time.Minute
			rep.StreamOutages++
			stream.SetDown(true)
			time.Sleep(3 * time.Second)
			stream.SetDown(false)
		}
		rss, fds, err := procSample(pid)
		if err != nil {
			t.Fatalf("sample edged (pid %d) after %v: %v\n%s", pid, time.Since(start), err, tail(stderr.String()))
		}
		inferred := 0.0
		for _, c := range []string{"video", "folder", "stream"} {
			inferred += scrapeValue(t, base+"/metrics", fmt.Sprintf(`edged_frames_inferred_total{camera=%q}`, c))
		}
		rep.Samples = append(rep.Samples, soakSample{T: time.Since(start).Seconds(), RSSKiB: rss, FDs: fds, Inferred: inferred})
	}
	rep.Reconnects = scrapeValue(t, base+"/metrics", `edged_camera_reconnects_total{camera="stream"}`)
	rep.DecodeErrors = scrapeValue(t, base+"/metrics", `edged_camera_decode_errors_total{camera="folder"}`)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("edged after SIGTERM: %v\n%s", err, tail(stderr.String()))
	}
	rep.Results = len(sub.Messages("edged/soak/"))

	var ts, rssMiB, fdv []float64
	for _, s := range rep.Samples {
		rep.RSSMiBMax = max(rep.RSSMiBMax, float64(s.RSSKiB)/1024)
		rep.FDsMax = max(rep.FDsMax, s.FDs)
		if s.T >= warmup*60 {
			ts, rssMiB, fdv = append(ts, s.T), append(rssMiB, float64(s.RSSKiB)/1024), append(fdv, float64(s.FDs))
		}
	}
	if len(ts) < 2 {
		t.Fatalf("%d samples after the warm-up", len(ts))
	}
	rep.RSSMiBFirst, rep.RSSMiBLast = rssMiB[0], rssMiB[len(rssMiB)-1]
	rep.RSSSlopeMiBPerH, rep.FDSlopePerH = slopePerHour(ts, rssMiB), slopePerHour(ts, fdv)
	rep.Inferred = rep.Samples[len(rep.Samples)-1].Inferred
	t.Logf("soak %.1f min: RSS %.1f -> %.1f MiB (max %.1f), slope %+.2f MiB/h; fds max %d, slope %+.2f/h; %v frames inferred, %d results, %d outages, %v reconnects, %v folder skips",
		minutes, rep.RSSMiBFirst, rep.RSSMiBLast, rep.RSSMiBMax, rep.RSSSlopeMiBPerH, rep.FDsMax, rep.FDSlopePerH, rep.Inferred, rep.Results, rep.StreamOutages, rep.Reconnects, rep.DecodeErrors)

	// Every sample shows frames flowing: the inferred count grows between
	// consecutive samples after the first seconds.
	for i := 2; i < len(rep.Samples); i++ {
		if rep.Samples[i].Inferred <= rep.Samples[i-1].Inferred {
			t.Errorf("no frame inferred between %.0fs and %.0fs", rep.Samples[i-1].T, rep.Samples[i].T)
		}
	}
	if rep.Results == 0 || rep.DecodeErrors < 1 {
		t.Errorf("%d results received, %v folder skips: want results and the corrupt image skipped", rep.Results, rep.DecodeErrors)
	}
	rep.Pass = !t.Failed()
	if long {
		if rep.RSSSlopeMiBPerH > rssTol {
			t.Errorf("RSS grows %.2f MiB/hour after the warm-up, tolerance %.0f", rep.RSSSlopeMiBPerH, rssTol)
		}
		if rep.FDSlopePerH > fdTol {
			t.Errorf("open descriptors grow %.2f/hour after the warm-up, tolerance %.0f", rep.FDSlopePerH, fdTol)
		}
		if rep.StreamOutages > 0 && rep.Reconnects < float64(rep.StreamOutages) {
			t.Errorf("%d stream outages but %v reconnects", rep.StreamOutages, rep.Reconnects)
		}
		rep.Pass = !t.Failed()
	}
	if out := os.Getenv("SOAK_REPORT"); out != "" {
		os.MkdirAll(filepath.Dir(out), 0o755)
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
			t.Errorf("write the report: %v", err)
		}
	}
}
