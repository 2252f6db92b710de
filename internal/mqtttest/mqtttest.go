// Package mqtttest starts a real mosquitto broker on a free loopback port
// for tests, and collects what a real mosquitto_sub receives.
package mqtttest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Broker is a mosquitto process owned by a test.
type Broker struct {
	Addr string // host:port on loopback
	cmd  *exec.Cmd
	conf string
	bin  string
	t    testing.TB
}

// Start runs mosquitto on a free loopback port with the extra config lines
// given, and stops it when the test ends. It skips the test when mosquitto
// is not installed (CI installs it).
func Start(t testing.TB, extra ...string) *Broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/mosquitto"); e == nil {
			bin = "/usr/sbin/mosquitto"
		} else {
			t.Skip("mosquitto is not installed (apt-get install mosquitto)")
		}
	}
	port := FreePort(t)
	b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", port), t: t}
	b.conf = filepath.Join(t.TempDir(), "mosquitto.conf")
	lines := []string{fmt.Sprintf("listener %d 127.0.0.1", port), "allow_anonymous true"}
	if !slices.ContainsFunc(extra, func(l string) bool { return strings.HasPrefix(l, "persistence ") }) {
		lines = append(lines, "persistence false")
	}
	lines = append(lines, extra...)
	if os.Geteuid() == 0 {
		// As root mosquitto would switch to its own user, which cannot
		// read the test's private temporary files (passwords, keys).
		lines = append(lines, "user root")
	}
	if err := os.WriteFile(b.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.bin = bin
	b.start()
	t.Cleanup(b.Stop)
	return b
}

func (b *Broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = os.Stderr, os.Stderr
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	WaitListening(b.t, b.Addr, 5*time.Second)
}

// Restart starts the broker again on the same port with the same
// configuration, after Stop or Terminate.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// Terminate stops the broker with SIGTERM, which lets a broker configured
// with persistence save its sessions, and waits for it to exit.
func (b *Broker) Terminate() {
	if b.cmd != nil && b.cmd.Process != nil && b.cmd.ProcessState == nil {
		b.cmd.Process.Signal(syscall.SIGTERM)
		b.cmd.Wait()
	}
}

// URL returns the broker's tcp:// URL.
func (b *Broker) URL() string { return "tcp://" + b.Addr }

// Stop kills the broker; it is safe to call twice.
func (b *Broker) Stop() {
	if b.cmd != nil && b.cmd.Process != nil && b.cmd.ProcessState == nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %v: %v", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Message is one message a subscriber received.
type Message struct {
	Topic   string
	Payload string
}

// Subscriber is a mosquitto_sub process collecting messages.
type Subscriber struct {
	mu   sync.Mutex
	msgs []Message
	cmd  *exec.Cmd
	done chan struct{}
}

// Subscribe runs mosquitto_sub on topic (QoS 1) against addr until the test
// ends. It returns once the subscription is in place.
func Subscribe(t testing.TB, addr, topic string) *Subscriber {
	t.Helper()
	return subscribe(t, addr, topic)
}

// SubscribePersistent is Subscribe with a persistent session (client id
// id, clean session off): a broker that keeps sessions (persistence on)
// queues QoS 1 messages for it while it is away, and mosquitto_sub
// reconnects by itself when the broker comes back.
func SubscribePersistent(t testing.TB, addr, topic, id string) *Subscriber {
	t.Helper()
	return subscribe(t, addr, topic, "-c", "-i", id)
}

func subscribe(t testing.TB, addr, topic string, extra ...string) *Subscriber {
	t.Helper()
	bin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("mosquitto_sub is not installed (apt-get install mosquitto-clients)")
	}
	host, port, _ := net.SplitHostPort(addr)
	s := &Subscriber{done: make(chan struct{})}
	// -v prints "topic payload"; -d would be noisy. The marker message below
	// proves the subscription is active before Subscribe returns.
	s.cmd = exec.Command(bin, append([]string{"-h", host, "-p", port, "-q", "1", "-v", "-t", topic, "-t", "mqtttest/ready/#"}, extra...)...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto_sub: %v", err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			topic, payload, _ := strings.Cut(sc.Text(), " ")
			s.mu.Lock()
			s.msgs = append(s.msgs, Message{Topic: topic, Payload: payload})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	marker := fmt.Sprintf("mqtttest/ready/%d", time.Now().UnixNano())
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pub := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-t", marker, "-m", "x")
		if err := pub.Run(); err != nil {
			t.Fatalf("mosquitto_pub: %v", err)
		}
		if s.has(marker) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("mosquitto_sub on %s did not receive a marker within 10s", addr)
	return nil
}

func (s *Subscriber) has(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.Topic == topic {
			return true
		}
	}
	return false
}

// Messages returns the messages received so far on topics matching prefix.
func (s *Subscriber) Messages(prefix string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if strings.HasPrefix(m.Topic, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor polls until cond holds for the messages under prefix, or fails
// the test after within.
func (s *Subscriber) WaitFor(ctx context.Context, t testing.TB, prefix string, within time.Duration, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msgs := s.Messages(prefix)
		if cond(msgs) {
			return msgs
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("after %v, %d messages under %q did not meet the condition", within, len(msgs), prefix)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
