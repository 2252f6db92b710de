package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/samplevideo"
)

// Fault injection for the persistent outbound queue (docs/delivery.md):
// the broker goes away and comes back, edged is killed with SIGKILL, the
// queue's disk fills up. Each test runs the real binary against a real
// mosquitto on a looping video made from real photos.

const resultTopic = "edged/d/cam/result"

// loopVideo writes a short looping video of real photos.
func loopVideo(t *testing.T) string {
	t.Helper()
	video := filepath.Join(t.TempDir(), "loop.avi")
	if err := samplevideo.Write(video, []string{photo(t, "space_shuttle.jpg"), photo(t, "orange.jpg")},
		samplevideo.Options{Width: 224, Height: 224, FPS: 10, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	return video
}

// queueConfig writes a configuration for one looping camera "cam" on
// device "d", with the HTTP endpoint on a free port and the queue at
// queuePath; extra lines go under queue:.
func queueConfig(t *testing.T, brokerURL, video, queuePath string, fps int, queueExtra ...string) string {
	t.Helper()
	q := "queue:\n  path: " + queuePath + "\n"
	for _, l := range queueExtra {
		q += "  " + l + "\n"
	}
	y := fmt.Sprintf("device: d\nlog: {format: json}\nhttp: {addr: \"127.0.0.1:0\"}\nbroker: {url: %s, connect_timeout: 1s}\n%scameras:\n  - name: cam\n    source: %s\n    loop: true\n    fps: %d\n",
		brokerURL, q, video, fps)
	path := filepath.Join(t.TempDir(), "edged.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// byBoot splits payloads by boot id, in the order the boots first appear.
func byBoot(ps []publish.Payload) (boots []string, seqs map[string][]uint64) {
	seqs = map[string][]uint64{}
	for _, p := range ps {
		if _, ok := seqs[p.Boot]; !ok {
			boots = append(boots, p.Boot)
		}
		seqs[p.Boot] = append(seqs[p.Boot], p.Seq)
	}
	return boots, seqs
}

// checkRun checks one boot's seq numbers in arrival order: they start at
// 1, never go back, never skip one, and reach at least least. It returns
// how many were duplicates (a QoS 1 redelivery repeats the last seq).
func checkRun(t *testing.T, what string, seqs []uint64, least uint64) (dups int) {
	t.Helper()
	if len(seqs) == 0 || seqs[0] != 1 {
		t.Fatalf("%s: seqs do not start at 1: %v", what, head(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		switch d := int64(seqs[i]) - int64(seqs[i-1]); {
		case d == 1:
		case d == 0:
			dups++
		default:
			t.Fatalf("%s: seq %d follows %d (position %d): missing or out of order", what, seqs[i], seqs[i-1], i)
		}
	}
	if last := seqs[len(seqs)-1]; last < least {
		t.Fatalf("%s: last seq %d, but %d were accepted", what, last, least)
	}
	return dups
}

func head(s []uint64) []uint64 { return s[:min(len(s), 20)] }

// TestBrokerOutage: mosquitto is stopped for a few seconds during a run
// and started again on the same port. The test subscriber has a
// persistent session (clean session off, QoS 1) on a broker that keeps
// sessions, so whatever edged delivers after the broker returns reaches
// it even before it has reconnected: what the test sees is edged's
// delivery. Every seq arrives, in order, and the results captured during
// the outage are among them, delivered after the broker came back.
func TestBrokerOutage(t *testing.T) {
	dir := t.TempDir()
	b := mqtttest.Start(t, "persistence true", "persistence_location "+dir+"/", "autosave_interval 1")
	sub := mqtttest.SubscribePersistent(t, b.Addr, resultTopic, "outage-test-sub")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, log, _ := startEdged(t, ctx, queueConfig(t, b.URL(), loopVideo(t), filepath.Join(dir, "queue.db"), 10))
	sub.WaitFor(ctx, t, resultTopic, 60*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 5 })

	down := time.Now()
	b.Terminate()
	time.Sleep(3 * time.Second)
	b.Restart()
	up := time.Now()
	// Results captured after the broker's return prove delivery caught up.
	sub.WaitFor(ctx, t, resultTopic, 90*time.Second, func(m []mqtttest.Message) bool {
		ps := payloads(t, m)
		return len(ps) > 0 && ps[len(ps)-1].TS.After(up.Add(time.Second))
	})
	stopEdged(t, cmd, log)

	ps := payloads(t, sub.Messages(resultTopic))
	boots, seqs := byBoot(ps)
	if len(boots) != 1 {
		t.Fatalf("boots %v, want one", boots)
	}
	dups := checkRun(t, "run", seqs[boots[0]], 1)
	var during int
	for _, p := range ps {
		if p.TS.After(down) && p.TS.Before(up) {
			during++
		}
	}
	if during < 5 {
		t.Fatalf("only %d results captured during the %v outage arrived", during, up.Sub(down).Round(time.Millisecond))
	}
	t.Logf("%d results, %d captured during the %v outage, %d QoS 1 duplicates", len(ps), during, up.Sub(down).Round(time.Millisecond), dups)
}

// TestKilledWhileBrokerDown: edged runs with no broker, so everything it
// accepts stays in its queue; it is killed with SIGKILL, the broker
// starts, edged starts again with the same queue: every result of the
// first run arrives, seq 1 upwards without a gap, before the second run's.
func TestKilledWhileBrokerDown(t *testing.T) {
	b := mqtttest.Start(t)
	b.Stop() // its port is now free: nothing answers there
	dir := t.TempDir()
	cfg := queueConfig(t, b.URL(), loopVideo(t), filepath.Join(dir, "queue.db"), 20)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, _, metrics := startEdged(t, ctx, cfg)
	accepted := waitMetric(t, metrics, "edged_queue_depth", 60*time.Second, func(v float64) bool { return v >= 20 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	b.Restart()
	sub := mqtttest.Subscribe(t, b.Addr, resultTopic)
	cmd, log, _ := startEdged(t, ctx, cfg)
	sub.WaitFor(ctx, t, resultTopic, 90*time.Second, func(m []mqtttest.Message) bool {
		boots, _ := byBoot(payloads(t, m))
		return len(boots) == 2
	})
	stopEdged(t, cmd, log)

	boots, seqs := byBoot(payloads(t, sub.Messages(resultTopic)))
	if len(boots) != 2 {
		t.Fatalf("boots %v, want the killed run's and the new one's", boots)
	}
	first := seqs[boots[0]]
	if dups := checkRun(t, "killed run", first, uint64(accepted)); dups != 0 {
		t.Errorf("%d duplicates, but nothing was published before the kill", dups)
	}
	checkRun(t, "second run", seqs[boots[1]], 1)
	// Ordered: all of the killed run's results before the second run's.
	ps := payloads(t, sub.Messages(resultTopic))
	for i, p := range ps[:len(first)] {
		if p.Boot != boots[0] {
			t.Fatalf("message %d is from the second run before the killed run's were all delivered", i)
		}
	}
	t.Logf("killed run: %d results delivered after the restart (%d were in the queue when the test last looked)", len(first), int(accepted))
}

// TestKilledWhileDelivering: edged is killed with SIGKILL while it
// publishes to a running broker, and started again with the same queue.
// No accepted result of the first run is missing, and the only duplicates
// are the few results the broker had acknowledged whose deletion had not
// been committed yet.
func TestKilledWhileDelivering(t *testing.T) {
	b := mqtttest.Start(t)
	sub := mqtttest.Subscribe(t, b.Addr, resultTopic)
	dir := t.TempDir()
	cfg := queueConfig(t, b.URL(), loopVideo(t), filepath.Join(dir, "queue.db"), 30)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, _, metrics := startEdged(t, ctx, cfg)
	sub.WaitFor(ctx, t, resultTopic, 60*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 20 })
	accepted := scrapeValue(t, metrics, `edged_results_published_total{camera="cam"}`)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	cmd, log, _ := startEdged(t, ctx, cfg)
	sub.WaitFor(ctx, t, resultTopic, 90*time.Second, func(m []mqtttest.Message) bool {
		boots, _ := byBoot(payloads(t, m))
		return len(boots) == 2
	})
	stopEdged(t, cmd, log)

	boots, seqs := byBoot(payloads(t, sub.Messages(resultTopic)))
	if len(boots) != 2 {
		t.Fatalf("boots %v, want the killed run's and the new one's", boots)
	}
	dups := checkRun(t, "killed run", seqs[boots[0]], uint64(accepted))
	if dups > 10 {
		t.Errorf("%d duplicates: more than the results in flight at the kill", dups)
	}
	checkRun(t, "second run", seqs[boots[1]], 1)
	t.Logf("killed run: %d results (at least %d accepted), %d duplicates after SIGKILL", len(seqs[boots[0]]), int(accepted), dups)
}

// TestQueueDiskFull: the queue lives on a 64 KiB tmpfs and the broker is
// down, so the disk fills. edged logs the refused commits, counts them,
// keeps results in its bounded memory lane (the policy, drop_oldest,
// drops the oldest there and counts them), stays alive and healthy, and
// publishes again once the broker is back.
func TestQueueDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs for the disk-full test (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	b := mqtttest.Start(t)
	b.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := queueConfig(t, b.URL(), loopVideo(t), filepath.Join(mnt, "queue.db"), 0, "max_bytes: 65536")
	cmd, log, metrics := startEdged(t, ctx, cfg)
	waitMetric(t, metrics, "edged_queue_write_errors_total", 90*time.Second, func(v float64) bool { return v > 0 })
	waitMetric(t, metrics, `edged_queue_dropped_total{reason="disk"}`, 90*time.Second, func(v float64) bool { return v > 0 })
	if !strings.Contains(log.String(), "the disk refused a commit") || !strings.Contains(log.String(), "no space left on device") {
		t.Fatalf("no clear log line about the full disk:\n%s", log)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), `"msg":"queue dropped results"`) {
		if time.Now().After(deadline) {
			t.Fatalf("drops not logged:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := strings.Count(log.String(), "the disk refused a commit"); n > 20 {
		t.Errorf("%d log lines about the full disk: not rate-limited", n)
	}
	if cmd.ProcessState != nil {
		t.Fatalf("edged exited: %v", cmd.ProcessState)
	}
	inferred := scrapeValue(t, metrics, `edged_frames_inferred_total{camera="cam"}`)

	// The broker returns: results flow again, from the memory lane and
	// the disk, while the disk is still full.
	b.Restart()
	sub := mqtttest.Subscribe(t, b.Addr, resultTopic)
	sub.WaitFor(ctx, t, resultTopic, 90*time.Second, func(m []mqtttest.Message) bool {
		ps := payloads(t, m)
		return len(ps) >= 10 && ps[len(ps)-1].Frame > uint64(inferred)
	})
	waitMetric(t, metrics, `edged_frames_inferred_total{camera="cam"}`, 30*time.Second, func(v float64) bool { return v > inferred })
	stopEdged(t, cmd, log)
	ps := payloads(t, sub.Messages(resultTopic))
	for i := 1; i < len(ps); i++ {
		if ps[i].Seq < ps[i-1].Seq {
			t.Fatalf("out of order: seq %d after %d", ps[i].Seq, ps[i-1].Seq)
		}
	}
	t.Logf("%d results delivered after the broker returned, seq %d..%d", len(ps), ps[0].Seq, ps[len(ps)-1].Seq)
}
