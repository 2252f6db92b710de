// Command fleetsim runs a fleet of real edged processes on one mosquitto
// and times a signed deployment to all of them (docs/fleet.md, "Fleet
// simulation"). For each fleet size it starts mosquitto and N edged
// processes (each one camera: a folder of two small photos at a low rate,
// the bundled model), waits until every box reports on its status topic,
// measures their memory, publishes one deployment of a 5 MB model to their
// group in chunks, and records the time until every box reports it
// applied and the bytes the broker sent meanwhile.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-io/edged/bench/procfs"
	"github.com/edged-io/edged/internal/fleet"
)

type options struct {
	edged, model, photos, out, tfliteLib string
	sizes                                []int
	fps                                  float64
	timeout                              time.Duration
}

// Run is one fleet size's figures.
type Run struct {
	Boxes          int     `json:"boxes"`
	StartS         float64 `json:"start_s"`          // until every box reported its status
	AnonMBMean     float64 `json:"anon_mb_mean"`     // private memory per box
	RSSMBMean      float64 `json:"rss_mb_mean"`      // resident memory per box
	ArtifactMB     float64 `json:"artifact_mb"`      // the deployed model
	AllAppliedS    float64 `json:"all_applied_s"`    // from publishing to the last box's "applied"
	MedianAppliedS float64 `json:"median_applied_s"` // the median box
	FirstAppliedS  float64 `json:"first_applied_s"`
	BrokerMBSent   float64 `json:"broker_mb_sent"` // $SYS/broker/bytes/sent, before to after
	BrokerMBPerBox float64 `json:"broker_mb_per_box"`
	Failed         int     `json:"failed"`
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&o.edged, "edged", "bin/edged", "the edged binary")
	flag.StringVar(&o.model, "model", "models/efficientnet_lite0_int8.tflite", "the model every box starts on; the deployment is a copy with other metadata")
	flag.StringVar(&o.photos, "photos", "", "comma-separated photos for each box's folder (default: opencv-doc's orange and gocv's space shuttle)")
	flag.StringVar(&o.out, "out", "build/fleetsim", "output folder (report.json, report.md)")
	flag.StringVar(&o.tfliteLib, "tflite-lib", "", "libtensorflowlite_c.so (default: edged searches)")
	flag.StringVar(&sizes, "sizes", "50,100,200", "fleet sizes")
	flag.Float64Var(&o.fps, "fps", 0.1, "each box's frame rate")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "per fleet size")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("-sizes: %q", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		log.Fatal(err)
	}
	var runs []Run
	for _, n := range o.sizes {
		r, err := simulate(o, n)
		if err != nil {
			log.Fatalf("%d boxes: %v", n, err)
		}
		log.Printf("%d boxes: %+v", n, r)
		runs = append(runs, r)
	}
	data, _ := json.MarshalIndent(runs, "", "  ")
	os.WriteFile(filepath.Join(o.out, "report.json"), append(data, '\n'), 0o644)
	var b strings.Builder
	fmt.Fprintf(&b, "| boxes | start (s) | anon MB/box | RSS MB/box | artifact MB | first applied (s) | median (s) | all applied (s) | broker MB sent | MB/box | failed |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %d | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f | %d |\n", r.Boxes, r.StartS, r.AnonMBMean, r.RSSMBMean,
			r.ArtifactMB, r.FirstAppliedS, r.MedianAppliedS, r.AllAppliedS, r.BrokerMBSent, r.BrokerMBPerBox, r.Failed)
	}
	os.WriteFile(filepath.Join(o.out, "report.md"), []byte(b.String()), 0o644)
	fmt.Print(b.String())
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func simulate(o options, n int) (Run, error) {
	r := Run{Boxes: n}
	dir, err := os.MkdirTemp("", "fleetsim")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	// The broker: anonymous (ACLs cost the broker little next to the
	// chunk traffic), $SYS every second, queues deep enough for a chunked
	// model per subscriber.
	port := freePort()
	conf := filepath.Join(dir, "mosquitto.conf")
	lines := []string{fmt.Sprintf("listener %d 127.0.0.1", port), "allow_anonymous true", "persistence false", "sys_interval 1",
		"max_queued_messages 100000", "max_connections -1"}
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	mq := exec.Command("mosquitto", "-c", conf)
	if err := mq.Start(); err != nil {
		return r, fmt.Errorf("mosquitto: %w", err)
	}
	defer func() { mq.Process.Kill(); mq.Wait() }()
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			return r, fmt.Errorf("mosquitto did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}

	pub, err := fleet.Keygen(filepath.Join(dir, "op"), nil)
	if err != nil {
		return r, err
	}
	key, err := fleet.ReadPrivateKey(filepath.Join(dir, "op.key"))
	if err != nil {
		return r, err
	}
	photos := strings.Split(o.photos, ",")
	if o.photos == "" {
		photos = defaultPhotos()
	}
	img := filepath.Join(dir, "img")
	os.MkdirAll(img, 0o755)
	for _, p := range photos {
		data, err := os.ReadFile(p)
		if err != nil {
			return r, err
		}
		os.WriteFile(filepath.Join(img, filepath.Base(p)), data, 0o644)
	}
	model, err := filepath.Abs(o.model)
	if err != nil {
		return r, err
	}

	op, err := fleet.Dial(ctx, fleet.BrokerOptions{URL: url})
	if err != nil {
		return r, err
	}
	defer op.Close()
	if err := op.Follow(ctx); err != nil {
		return r, err
	}

	// The boxes, started ten at a time.
	t0 := time.Now()
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
		}
		for _, p := range procs {
			p.Wait()
		}
	}()
	for i := range n {
		dev := fmt.Sprintf("box-%03d", i)
		cfg := filepath.Join(dir, dev+".yaml")
		doc := fmt.Sprintf(`device: %s
state_dir: %s
broker: {url: %s}
http: {addr: ""}
queue: {enabled: false}
models:
  - {name: default, path: %s}
cameras:
  - {name: cam, source: %s, fps: %g, loop: true}
fleet: {enabled: true, trusted_keys: [%s], groups: [sim], health_window: 0s, download_timeout: 5m}
`, dev, filepath.Join(dir, "state-"+dev), url, model, img, o.fps, pub.File)
		os.WriteFile(cfg, []byte(doc), 0o644)
		args := []string{"run", "--config", cfg}
		if o.tfliteLib != "" {
			args = append(args, "--tflite-lib", o.tfliteLib)
		}
		p := exec.Command(o.edged, args...)
		if err := p.Start(); err != nil {
			return r, err
		}
		procs = append(procs, p)
		if i%10 == 9 {
			if err := waitStatuses(ctx, op, i+1); err != nil {
				return r, err
			}
		}
	}
	if err := waitStatuses(ctx, op, n); err != nil {
		return r, err
	}
	r.StartS = time.Since(t0).Seconds()
	time.Sleep(2 * time.Second) // the first frames' allocations settle
	var anon, rss float64
	for _, p := range procs {
		s, a, _ := procfs.Memory(p.Process.Pid)
		anon += a
		rss += s
	}
	r.AnonMBMean, r.RSSMBMean = anon/float64(n), rss/float64(n)

	// One deployment to the group, timed until every box applied it.
	data, err := os.ReadFile(model)
	if err != nil {
		return r, err
	}
	if i := bytes.Index(data, []byte("see model card")); i >= 0 {
		copy(data[i:], "fleet sim v2!!")
	} else {
		data = append(data, 0) // trailing bytes: another file, the same model
	}
	r.ArtifactMB = float64(len(data)) / 1e6
	d, err := fleet.Sign(fleet.Build{Groups: []string{"sim"}, Model: data}, key, time.Now())
	if err != nil {
		return r, err
	}
	sent0, err := brokerSent(ctx, url)
	if err != nil {
		return r, err
	}
	start := time.Now()
	if err := op.Publish(ctx, d, fleet.GroupTopic("edged", "sim")); err != nil {
		return r, err
	}
	applied := map[string]time.Duration{}
	for len(applied)+r.Failed < n {
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("%d of %d applied: %w", len(applied), n, ctx.Err())
		case <-op.Changed():
		case <-time.After(200 * time.Millisecond):
		}
		r.Failed = 0
		for dev, s := range op.Statuses() {
			if s.Version != d.Manifest.Version {
				continue
			}
			switch s.State {
			case fleet.StateApplied:
				if _, ok := applied[dev]; !ok {
					applied[dev] = time.Since(start)
				}
			case fleet.StateRejected, fleet.StateRolledBack:
				r.Failed++
			}
		}
	}
	var ts []float64
	for _, t := range applied {
		ts = append(ts, t.Seconds())
	}
	sort.Float64s(ts)
	if len(ts) > 0 {
		r.FirstAppliedS, r.MedianAppliedS, r.AllAppliedS = ts[0], ts[len(ts)/2], ts[len(ts)-1]
	}
	time.Sleep(2500 * time.Millisecond) // two $SYS intervals
	sent1, err := brokerSent(ctx, url)
	if err != nil {
		return r, err
	}
	r.BrokerMBSent = float64(sent1-sent0) / 1e6
	r.BrokerMBPerBox = r.BrokerMBSent / float64(n)
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	return r, nil
}

// waitStatuses waits until n boxes have reported a status.
func waitStatuses(ctx context.Context, op *fleet.Operator, n int) error {
	for len(op.Statuses()) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d boxes reported: %w", len(op.Statuses()), n, ctx.Err())
		case <-op.Changed():
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// brokerSent reads mosquitto's $SYS/broker/bytes/sent.
func brokerSent(ctx context.Context, url string) (int64, error) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("fleetsim-sys-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	got := make(chan int64, 1)
	var once sync.Once
	c.Subscribe("$SYS/broker/bytes/sent", 0, func(_ paho.Client, m paho.Message) {
		v, err := strconv.ParseInt(string(m.Payload()), 10, 64)
		if err == nil {
			once.Do(func() { got <- v })
		}
	})
	select {
	case v := <-got:
		return v, nil
	case <-time.After(5 * time.Second):
		return 0, fmt.Errorf("no $SYS/broker/bytes/sent from the broker")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func defaultPhotos() []string {
	out := []string{"/usr/share/doc/opencv-doc/examples/data/orange.jpg"}
	if gopath, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		out = append(out, filepath.Join(strings.TrimSpace(string(gopath)), "gocv.io/x/gocv@v0.31.0/images/space_shuttle.jpg"))
	}
	return out
}
