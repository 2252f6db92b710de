package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestEmbeddedAddressChecks(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"0.0.0.0:1883", "only loopback"},
		{"192.0.2.7:1883", "only loopback"},
		{"[::]:1883", "only loopback"},
		{"broker.example:1883", "only loopback"},
		{"127.0.0.1", "missing port"},
	}
	for _, c := range cases {
		if b, err := Start(c.addr, quietLog()); err == nil || !strings.Contains(err.Error(), c.want) {
			if b != nil {
				b.Close()
			}
			t.Errorf("Start(%q): %v, want an error containing %q", c.addr, err, c.want)
		}
	}
	// A port already taken is reported now, naming the address.
	addr := "127.0.0.1:" + strconv.Itoa(mqtttest.FreePort(t))
	first, err := Start(addr, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if b, err := Start(addr, quietLog()); err == nil || !strings.Contains(err.Error(), addr) {
		if b != nil {
			b.Close()
		}
		t.Errorf("second broker on %s: %v, want an error naming the address", addr, err)
	}
}

// TestShutdownLogsNoEmptyWarning: a client still connected when the
// broker stops ends its connection without a warning, and no record goes
// out with an empty message.
func TestShutdownLogsNoEmptyWarning(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	addr := fmt.Sprintf("127.0.0.1:%d", mqtttest.FreePort(t))
	b, err := Start(addr, log)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := "stays"
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, byte(len(id))}, id...)
	if _, err := conn.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		t.Fatal(err)
	}
	b.Close()
	io.Copy(io.Discard, conn) // the broker closes it
	time.Sleep(50 * time.Millisecond)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec.Msg == "" || rec.Level == "WARN" || rec.Level == "ERROR" {
			t.Errorf("logged at shutdown: %s", line)
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
