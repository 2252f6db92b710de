package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen opens a real datagram socket like systemd's and returns its
// NOTIFY_SOCKET value and a function reading the next message.
func listen(t *testing.T, abstract bool) (string, func() string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	env := name
	if abstract {
		env = "@edged-test-" + strings.ReplaceAll(t.Name(), "/", "-")
		name = "\x00" + env[1:]
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return env, func() string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification arrived: %v", err)
		}
		return string(buf[:n])
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMessages(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		sock, next := listen(t, abstract)
		n, err := New(envOf(map[string]string{"NOTIFY_SOCKET": sock}))
		if err != nil {
			t.Fatal(err)
		}
		if !n.Enabled() {
			t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
		}
		steps := []struct {
			send func() error
			want string
		}{
			{func() error { return n.Ready("2 cameras streaming") }, "READY=1\nSTATUS=2 cameras streaming"},
			{func() error { return n.Status("camera door\nREADY=1") }, "STATUS=camera door READY=1"},
			{n.Watchdog, "WATCHDOG=1"},
			{func() error { return n.Stopping("") }, "STOPPING=1"},
		}
		for _, s := range steps {
			if err := s.send(); err != nil {
				t.Fatalf("abstract=%v: %v", abstract, err)
			}
			if got := next(); got != s.want {
				t.Errorf("abstract=%v: got %q, want %q", abstract, got, s.want)
			}
		}
		if err := n.Reloading("reloading"); err != nil {
			t.Fatal(err)
		}
		got := next()
		if !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") || !strings.HasSuffix(got, "\nSTATUS=reloading") {
			t.Errorf("reloading message %q", got)
		}
	}
}

func TestOutsideSystemd(t *testing.T) {
	n, err := New(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() || n.WatchdogTimeout() != 0 {
		t.Fatalf("outside systemd: Enabled=%v WatchdogTimeout=%v", n.Enabled(), n.WatchdogTimeout())
	}
	for _, f := range []func() error{func() error { return n.Ready("x") }, n.Watchdog, func() error { return n.Stopping("") }} {
		if err := f(); err != nil {
			t.Fatalf("a notification outside systemd failed: %v", err)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	const pid = 4242
	for _, c := range []struct {
		usec, wpid string
		want       time.Duration
		bad        bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, false},
		{"30000000", "4242", 30 * time.Second, false},
		{"30000000", "17", 0, false}, // meant for another process
		{"abc", "", 0, true},
		{"0", "", 0, true},
		{"30000000", "x", 0, true},
	} {
		got, err := watchdogInterval(envOf(map[string]string{"WATCHDOG_USEC": c.usec, "WATCHDOG_PID": c.wpid}), pid)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: got %v, %v; want %v, error %v", c.usec, c.wpid, got, err, c.want, c.bad)
		}
	}
}

func TestBadSocket(t *testing.T) {
	if _, err := New(envOf(map[string]string{"NOTIFY_SOCKET": "relative/path"})); err == nil || !strings.Contains(err.Error(), "relative/path") {
		t.Fatalf("a relative NOTIFY_SOCKET gave %v, want an error naming it", err)
	}
}
