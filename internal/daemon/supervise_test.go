package daemon

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/sdnotify"
	"github.com/edged-io/edged/internal/statusapi"
)

// notifications listens like systemd and collects what arrives.
type notifications struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notifications) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

func (n *notifications) count(prefix string) int {
	c := 0
	for _, m := range n.all() {
		if strings.HasPrefix(m, prefix) {
			c++
		}
	}
	return c
}

func listenNotify(t *testing.T) (string, *notifications) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifications{}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return path, n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestSupervisor: READY only once the snapshot is ready; watchdog pings
// while nothing is stuck, none while a stage is stuck, again after.
func TestSupervisor(t *testing.T) {
	sock, got := listenNotify(t)
	notify, err := sdnotify.New(func(k string) string {
		return map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "100000"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	state, stuck := result.Starting, false
	s := &supervisor{
		notify: notify,
		snapshot: func() statusapi.Snapshot {
			mu.Lock()
			defer mu.Unlock()
			return statusapi.Snapshot{Cameras: map[string]result.Status{"door": {State: state}}}
		},
		stalls: func(time.Time, time.Duration) []string {
			mu.Lock()
			defer mu.Unlock()
			if stuck {
				return []string{`camera "door": inference stuck for 1m0s`}
			}
			return nil
		},
		log:  slog.New(slog.DiscardHandler),
		tick: 10 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "watchdog pings", func() bool { return got.count("WATCHDOG=1") >= 2 })
	if got.count("READY=1") != 0 {
		t.Fatal("READY=1 sent while the camera was still starting")
	}
	mu.Lock()
	state = "streaming"
	mu.Unlock()
	waitFor(t, "READY=1", func() bool { return got.count("READY=1\nSTATUS=1/1 cameras streaming") == 1 })

	mu.Lock()
	stuck = true
	mu.Unlock()
	waitFor(t, "the stuck status", func() bool { return got.count("STATUS=stuck: camera \"door\": inference stuck") == 1 })
	before := got.count("WATCHDOG=1")
	time.Sleep(500 * time.Millisecond) // ten ping periods
	if after := got.count("WATCHDOG=1"); after != before {
		t.Fatalf("%d watchdog pings while inference was stuck", after-before)
	}
	mu.Lock()
	stuck = false
	mu.Unlock()
	waitFor(t, "pings to resume", func() bool { return got.count("WATCHDOG=1") > before })
	if n := got.count("READY=1"); n != 1 {
		t.Errorf("READY=1 sent %d times", n)
	}
}

func TestSummary(t *testing.T) {
	s := statusapi.Snapshot{
		Cameras: map[string]result.Status{"a": {State: "streaming"}, "b": {State: "reconnecting"}, "c": {State: "streaming"}},
		Broker:  &statusapi.Broker{Connected: false, Ready: true},
	}
	if got, want := summary(s), "2/3 cameras streaming (b: reconnecting); broker away, results queued"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
