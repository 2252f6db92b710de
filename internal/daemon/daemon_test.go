package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/infer/infertest"
	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/outbox"
	"github.com/edged-io/edged/internal/publish"
)

// TestNewReleasesAfterPartialStart: when the last part New starts (the
// HTTP endpoint, on a busy port) fails, everything started before it is
// released: the models are closed, the embedded broker's port and the
// queue file are free again.
func TestNewReleasesAfterPartialStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	brokerAddr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	queue := filepath.Join(t.TempDir(), "queue.db")
	t.Setenv("EDGED_MODEL_DIR", filepath.Join("..", "..", "models"))
	cfg, err := config.Parse([]byte(`
http: {addr: "`+busy.Addr().String()+`"}
broker: {embedded_addr: "`+brokerAddr+`"}
queue: {enabled: true, path: `+queue+`}
cameras:
  - {name: front, source: `+t.TempDir()+`}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &infertest.Engine{}
	d, err := New(context.Background(), Options{Config: cfg, Engine: e, Log: slog.New(slog.DiscardHandler)})
	if err == nil {
		d.Close()
		t.Fatal("New succeeded on a busy http.addr")
	}
	if !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("error %v does not name the busy address", err)
	}
	if s := e.Stats(); s.Loads != 1 || s.Open != 0 {
		t.Errorf("engine %+v: want the model loaded once and closed", s)
	}
	if l, err := net.Listen("tcp", brokerAddr); err != nil {
		t.Errorf("the embedded broker's port is still taken: %v", err)
	} else {
		l.Close()
	}
	q, err := outbox.Open(outbox.Options{Path: queue, MaxBytes: 1 << 20})
	if err != nil {
		t.Errorf("the queue file is still locked: %v", err)
	} else {
		q.Close()
	}
}

// TestRunWithFakeEngine: a whole run with the scripted engine and stdout
// only: every photo of a folder is published once, in order, with the
// scripted label and latency.
func TestRunWithFakeEngine(t *testing.T) {
	dir := t.TempDir()
	writeJPEGs(t, dir, 4)
	t.Setenv("EDGED_MODEL_DIR", filepath.Join("..", "..", "models"))
	cfg, err := config.Parse([]byte(`
http: {addr: ""}
device: fake
cameras:
  - {name: front, source: `+dir+`}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float32, 1000)
	scores[812] = 0.75
	e := &infertest.Engine{Script: infertest.Fixed(scores, time.Millisecond)}
	var stdout bytes.Buffer
	if err := Run(context.Background(), Options{Config: cfg, Engine: e, NoMQTT: true, Stdout: &stdout,
		Log: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want one per photo: %q", len(lines), lines)
	}
	for i, line := range lines {
		var p publish.Payload
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		if p.Seq != uint64(i+1) || p.Device != "fake" || p.Labels[0].Label != "space shuttle" || p.Latency.Infer < 1 {
			t.Errorf("line %d: %+v", i, p)
		}
	}
	if s := e.Stats(); s.Open != 0 {
		t.Errorf("engine %+v: model not closed after the run", s)
	}
}

// writeJPEGs writes n small grey JPEGs (00.jpg, 01.jpg, ...) into dir.
func writeJPEGs(t *testing.T, dir string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(40*i), 128, 200, 0), 120, 160, gocv.MatTypeCV8UC3)
		ok := gocv.IMWrite(filepath.Join(dir, fmt.Sprintf("%02d.jpg", i)), m)
		m.Close()
		if !ok {
			t.Fatal("IMWrite failed")
		}
	}
}

// TestEmbeddedAddressTaken: with no broker configured and the embedded
// broker's port taken by a running mosquitto (Debian starts one on 1883
// when installed), results go to that mosquitto; taken by something that
// is not MQTT, New fails saying what to change.
func TestEmbeddedAddressTaken(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	dir := t.TempDir()
	writeJPEGs(t, dir, 3)
	t.Setenv("EDGED_MODEL_DIR", filepath.Join("..", "..", "models"))
	cfg, err := config.Parse([]byte(`
http: {addr: ""}
device: taken
broker: {embedded_addr: "`+b.Addr+`"}
queue: {enabled: false}
cameras:
  - {name: front, source: `+dir+`}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &infertest.Engine{}
	if err := Run(context.Background(), Options{Config: cfg, Engine: e, Log: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatalf("Run with the embedded port held by mosquitto: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub.WaitFor(ctx, t, "edged/taken/front/result", 10*time.Second, func(m []mqtttest.Message) bool { return len(m) == 3 })

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	go func() { // accepts and says nothing: not MQTT
		for {
			c, err := busy.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cfg.Broker.EmbeddedAddr = busy.Addr().String()
	err = Run(context.Background(), Options{Config: cfg, Engine: e, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) || !strings.Contains(err.Error(), "broker.embedded_addr") {
		t.Errorf("Run with the port held by something else: %v, want an error naming the address and broker.embedded_addr", err)
	}
}

// TestQueuePathPerTarget: without queue.path, each broker and device gets
// its own queue file; a configured path is kept.
func TestQueuePathPerTarget(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/edged")
	a, b := QueuePath("", "tcp://a:1883 dev"), QueuePath("", "tcp://b:1883 dev")
	c := QueuePath("", "tcp://a:1883 other")
	if a == b || a == c || b == c {
		t.Errorf("default paths %s, %s, %s: want one per broker and device", a, b, c)
	}
	if QueuePath("", "tcp://a:1883 dev") != a || filepath.Dir(a) != "/var/lib/edged" {
		t.Errorf("default path %s: want a stable file in $STATE_DIRECTORY", a)
	}
	if p := QueuePath("/data/q.db", "tcp://a:1883 dev"); p != "/data/q.db" {
		t.Errorf("configured path became %s", p)
	}
}

// TestShutdownDeadline: an inference that does not return (scripted to
// take a minute) holds the pipeline after the signal; Run gives up at the
// shutdown deadline with ErrStuck naming the stuck stage, instead of
// hanging.
func TestShutdownDeadline(t *testing.T) {
	dir := t.TempDir()
	writeJPEGs(t, dir, 3)
	t.Setenv("EDGED_MODEL_DIR", filepath.Join("..", "..", "models"))
	cfg, err := config.Parse([]byte(`
http: {addr: ""}
cameras:
  - {name: front, source: `+dir+`, loop: true}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	var invokes atomic.Int32
	e := &infertest.Engine{Script: func(infertest.Invocation) ([]float32, time.Duration, error) {
		if invokes.Add(1) > 1 { // the warm-up passes; the first frame's invoke hangs
			<-release
		}
		return nil, 0, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	t0 := time.Now()
	err = Run(ctx, Options{Config: cfg, Engine: e, NoMQTT: true, Stdout: io.Discard, ShutdownTimeout: time.Second,
		Log: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, ErrStuck) || !strings.Contains(err.Error(), `camera "front": inference stuck`) {
		t.Fatalf("Run: %v, want ErrStuck naming the camera's inference", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("Run took %v to give up", d)
	}
}

// TestNoResultsIsAnError: a run whose inputs all ended without a single
// result (a folder of images that do not decode) fails saying so instead
// of exiting as if it had worked.
func TestNoResultsIsAnError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.jpg"), []byte("not an image"), 0o644)
	t.Setenv("EDGED_MODEL_DIR", filepath.Join("..", "..", "models"))
	cfg, err := config.Parse([]byte("http: {addr: \"\"}\ncameras:\n  - {name: front, source: "+dir+"}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Options{Config: cfg, Engine: &infertest.Engine{}, NoMQTT: true, Stdout: io.Discard,
		Log: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, ErrNoResults) {
		t.Errorf("Run: %v, want ErrNoResults", err)
	}
}
