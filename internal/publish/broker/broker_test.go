package broker

import (
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

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
