package outbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/result"
)

// The queue's tests deliver to a real mosquitto through the real
// publisher, and read what arrived with a real mosquitto_sub.

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testQueue is an outbox behind the sink the daemon puts in front of it:
// Publish encodes and numbers a result for the queue, as in edged.
type testQueue struct {
	*Outbox
	sink *publish.Sink
	boot string
}

// Publish hands r for camera to the queue through the sink.
func (q *testQueue) Publish(ctx context.Context, camera string, r *result.Result) error {
	return q.sink.Publish(ctx, camera, r)
}

// open opens the queue at path for device "dev" with a new boot id.
func open(t testing.TB, path string, mod func(*Options)) *testQueue {
	t.Helper()
	o := Options{Path: path, MaxBytes: 1 << 20, Policy: DropOldest, Log: testLog(t)}
	if mod != nil {
		mod(&o)
	}
	q, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	boot := publish.NewBootID()
	return &testQueue{Outbox: q, boot: boot,
		sink: publish.NewSink(publish.Identity{Device: "dev", Boot: boot, TopicPrefix: "edged"}, q)}
}

func mkResult(frame uint64, label string) *result.Result {
	return &result.Result{Frame: frame, Captured: time.Now(), Model: result.ModelRef{Name: "m", SHA256: "0123456789ab"},
		Labels: []result.Label{{Label: label, Index: 1, Score: 0.9}}}
}

// pahoSender is a Sender over a plain paho client: QoS 1, each Send
// waiting for its PUBACK, as the daemon's publisher does. (The publisher
// itself, internal/publish/mqtt, imports config, which imports this
// package for its policies.)
type pahoSender struct{ c paho.Client }

func (s pahoSender) Send(ctx context.Context, topic string, payload []byte, retain bool) error {
	tok := s.c.Publish(topic, 1, retain, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s pahoSender) Connected() bool { return s.c.IsConnectionOpen() }

// connectSender connects a pahoSender to the broker at url.
func connectSender(t *testing.T, url string) pahoSender {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("outbox-test-" + publish.NewBootID()).
		SetCleanSession(true).SetOrderMatters(true).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return pahoSender{c}
}

// deliver runs the queue's delivery to a real broker until it is empty,
// and returns the payloads a subscriber received.
func deliver(t *testing.T, q *testQueue, want int) []publish.Payload {
	t.Helper()
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, "edged/#")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := connectSender(t, b.URL())
	done := make(chan struct{})
	rctx, stop := context.WithCancel(ctx)
	go func() { q.Run(rctx, pub); close(done) }()
	if !q.Drain(ctx) {
		t.Fatalf("queue not drained: %+v", q.Stats())
	}
	stop()
	<-done
	sub.WaitFor(ctx, t, "edged/dev/", 10*time.Second, func(m []mqtttest.Message) bool { return len(m) >= want })
	time.Sleep(200 * time.Millisecond) // anything beyond want would show up now
	msgs := sub.Messages("edged/dev/")
	var out []publish.Payload
	for _, m := range msgs {
		if strings.HasSuffix(m.Topic, "/status") {
			continue
		}
		var p publish.Payload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			t.Fatalf("%s: %v", m.Payload, err)
		}
		if m.Topic != "edged/dev/"+p.Camera+"/result" {
			t.Errorf("topic %s for camera %s", m.Topic, p.Camera)
		}
		out = append(out, p)
	}
	return out
}

// TestOrderAcrossReopen: results accepted by one run, with the broker
// never reached, are delivered by the next run in order, with their
// original boot, seq and ts; the queue is empty afterwards, and a third
// open finds nothing.
func TestOrderAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := open(t, path, nil)
	ctx := context.Background()
	var ts []time.Time
	for i := 1; i <= 50; i++ {
		for _, cam := range []string{"a", "b"} {
			r := mkResult(uint64(i), "x")
			ts = append(ts, r.Captured)
			if err := q.Publish(ctx, cam, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	boot := q.boot
	if s := q.Stats(); s.Depth != 100 || s.MemoryDepth != 0 {
		t.Fatalf("stats %+v", s)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = open(t, path, nil)
	if q.boot == boot {
		t.Fatal("same boot")
	}
	got := deliver(t, q, 100)
	if len(got) != 100 {
		t.Fatalf("%d delivered, want 100", len(got))
	}
	for i, p := range got {
		cam := []string{"a", "b"}[i%2]
		if p.Camera != cam || p.Seq != uint64(i/2+1) || p.Boot != boot || !p.TS.Equal(ts[i].UTC()) {
			t.Fatalf("delivery %d: %s seq %d boot %s ts %v; want %s seq %d boot %s ts %v", i, p.Camera, p.Seq, p.Boot, p.TS, cam, i/2+1, boot, ts[i])
		}
	}
	q.Close()
	q = open(t, path, nil)
	defer q.Close()
	if s := q.Stats(); s.Depth != 0 {
		t.Fatalf("after delivery, reopen finds %+v", s)
	}
}

// fill accepts n results for camera "c" whose top labels come from label.
func fill(t *testing.T, q *testQueue, n int, label func(i int) string) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := q.Publish(context.Background(), "c", mkResult(uint64(i), label(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func seqs(ps []publish.Payload) []uint64 {
	var out []uint64
	for _, p := range ps {
		out = append(out, p.Seq)
	}
	return out
}

// recordSize is the bytes one test result takes in the queue.
func recordSize(t *testing.T) int64 {
	q := open(t, filepath.Join(t.TempDir(), "size.db"), nil)
	defer q.Close()
	fill(t, q, 1, func(int) string { return "x" })
	return q.Stats().Bytes
}

// TestPolicies fills a queue bounded to ten results with thirty, and
// checks which arrive and what was counted, for each policy.
func TestPolicies(t *testing.T) {
	size := recordSize(t)
	repeat := func(i int) string { // a state change every tenth result
		return fmt.Sprintf("label%d", (i-1)/10)
	}
	for _, tc := range []struct {
		policy string
		label  func(int) string
		want   []uint64
	}{
		{DropOldest, repeat, []uint64{21, 22, 23, 24, 25, 26, 27, 28, 29, 30}},
		{DropNewest, repeat, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		// The changes at 1, 11 and 21 stay; repeats go, oldest first.
		{KeepStateChanges, repeat, []uint64{1, 11, 21, 24, 25, 26, 27, 28, 29, 30}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			met := NewMetrics(reg)
			q := open(t, filepath.Join(t.TempDir(), "q.db"), func(o *Options) {
				o.Policy, o.MaxBytes, o.Metrics = tc.policy, 10*size+size/2, met
			})
			defer q.Close()
			fill(t, q, 30, tc.label)
			if s := q.Stats(); s.Depth != 10 || s.Bytes > 10*size+size/2 {
				t.Fatalf("stats %+v, want 10 results within the bound", s)
			}
			if n := testutil.ToFloat64(met.dropped.WithLabelValues(ReasonFull)); n != 20 {
				t.Errorf("edged_queue_dropped_total{reason=full} = %v, want 20", n)
			}
			got := seqs(deliver(t, q, 10))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("delivered %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMaxAge: results older than max_age are dropped and counted.
func TestMaxAge(t *testing.T) {
	reg := prometheus.NewRegistry()
	met := NewMetrics(reg)
	q := open(t, filepath.Join(t.TempDir(), "q.db"), func(o *Options) { o.MaxAge, o.Metrics = 100*time.Millisecond, met })
	defer q.Close()
	fill(t, q, 5, func(int) string { return "x" })
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().Depth != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("results older than max_age still queued: %+v", q.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := testutil.ToFloat64(met.dropped.WithLabelValues(ReasonAge)); n != 5 {
		t.Errorf("dropped{reason=age} = %v, want 5", n)
	}
	if v, err := testutil.GatherAndCount(reg, "edged_queue_depth", "edged_queue_bytes", "edged_queue_oldest_age_seconds"); err != nil || v != 3 {
		t.Errorf("gauges: %d series, %v", v, err)
	}
}

// TestDiskFull puts the queue on a 64 KiB tmpfs: commits fail with
// ENOSPC, results go to the memory lane, whose bound (16 KiB here) the
// policy keeps by dropping the oldest there; everything left is delivered
// in order.
func TestDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	met := NewMetrics(prometheus.NewRegistry())
	q := open(t, filepath.Join(mnt, "q.db"), func(o *Options) { o.MemoryBytes, o.Metrics = 16<<10, met })
	defer q.Close()
	fill(t, q, 300, func(int) string { return "x" })
	s := q.Stats()
	if testutil.ToFloat64(met.writeErrors) == 0 || s.MemoryDepth == 0 {
		t.Fatalf("300 results on a 64 KiB disk: no write error (stats %+v)", s)
	}
	dropped := testutil.ToFloat64(met.dropped.WithLabelValues(ReasonDisk))
	if dropped == 0 {
		t.Fatalf("memory lane over its bound, nothing dropped: %+v", s)
	}
	got := seqs(deliver(t, q, s.Depth))
	if len(got) != s.Depth || len(got)+int(dropped) != 300 {
		t.Fatalf("%d delivered, %v dropped, stats before %+v", len(got), dropped, s)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order: %v", got)
		}
	}
	t.Logf("%d on disk, %d in memory, %v dropped; delivered %d..%d", s.Depth-s.MemoryDepth, s.MemoryDepth, dropped, got[0], got[len(got)-1])
}

// TestKilledMidWrite runs a writer in a child process that prints each seq
// once Publish returned, kills it with SIGKILL mid-stream, and checks
// that the reopened file holds every printed seq, in order.
func TestKilledMidWrite(t *testing.T) {
	if os.Getenv("OUTBOX_CHILD") != "" {
		t.Skip("child")
	}
	path := filepath.Join(t.TempDir(), "q.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildWriter$")
	cmd.Env = append(os.Environ(), "OUTBOX_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked []uint64
	for sc.Scan() {
		line := sc.Text()
		n, err := strconv.ParseUint(strings.TrimPrefix(line, "accepted "), 10, 64)
		if err != nil {
			continue
		}
		acked = append(acked, n)
		if len(acked) == 500 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	io.Copy(io.Discard, out)
	cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("child accepted only %d results", len(acked))
	}
	q := open(t, path, nil)
	defer q.Close()
	var stored []uint64
	err = q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).ForEach(func(k, v []byte) error {
			_, payload, err := decode(k, v)
			if err != nil {
				return err
			}
			var p publish.Payload
			if err := json.Unmarshal(payload, &p); err != nil {
				return err
			}
			stored = append(stored, p.Seq)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) < len(acked) {
		t.Fatalf("%d results in the file, %d were accepted", len(stored), len(acked))
	}
	for i, s := range stored {
		if s != uint64(i+1) {
			t.Fatalf("file position %d holds seq %d", i, s)
		}
	}
	t.Logf("accepted %d before SIGKILL, file holds %d (the rest were committed but not yet reported)", len(acked), len(stored))
}

// TestChildWriter is the child of TestKilledMidWrite: it accepts results
// from four goroutines until killed.
func TestChildWriter(t *testing.T) {
	path := os.Getenv("OUTBOX_CHILD")
	if path == "" {
		t.Skip("run by TestKilledMidWrite")
	}
	q := open(t, path, func(o *Options) { o.Log = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	w := bufio.NewWriter(os.Stdout)
	for i := uint64(1); ; i++ {
		if err := q.Publish(context.Background(), "c", mkResult(i, "x")); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "accepted %d\n", i)
		w.Flush()
	}
}

// BenchmarkAccept measures one accepted result (encode, group commit,
// fsync) with GOMAXPROCS and with four times as many publishers at once.
func BenchmarkAccept(b *testing.B) {
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("publishers=%dxGOMAXPROCS", par), func(b *testing.B) {
			q := open(b, filepath.Join(b.TempDir(), "q.db"), func(o *Options) {
				o.MaxBytes = 1 << 30
				o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
			})
			defer q.Close()
			b.SetParallelism(par)
			b.ResetTimer()
			var cams atomic.Int32
			b.RunParallel(func(pb *testing.PB) {
				// A camera per publisher, as in edged: one camera's results
				// are written one after another.
				cam := fmt.Sprint("c", cams.Add(1))
				r := mkResult(1, "x")
				for pb.Next() {
					if err := q.Publish(context.Background(), cam, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
