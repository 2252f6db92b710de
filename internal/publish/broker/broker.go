// Package broker is the embedded MQTT broker (mochi) edged starts on
// loopback when no broker is configured, so that it works out of the box.
// Only the daemon imports it.
package broker

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Embedded is a running embedded broker.
type Embedded struct {
	srv     *mochi.Server
	addr    string
	closing *atomic.Bool
}

// Limits of the embedded broker: the largest MQTT packet a client may send
// (results are about a kilobyte) and the most clients at once.
const (
	MaxPacket  = 256 << 10
	MaxClients = 64
)

// ErrBusy is wrapped by Start's error when something already listens on
// the address.
var ErrBusy = errors.New("address in use")

// IsMQTT reports whether an MQTT broker answers on addr within timeout: it
// sends a minimal MQTT 3.1.1 CONNECT (clean session, keep-alive 0, a fresh
// client id) and reads a CONNACK that accepts it, then disconnects. The
// daemon asks it when the embedded broker's port is taken, to find out
// whether a broker already serves there (Debian's mosquitto starts on 1883
// when installed).
func IsMQTT(addr string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	id := fmt.Sprintf("edged-probe-%d", time.Now().UnixNano()%1e9)
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, byte(len(id))}, id...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	if _, err := conn.Write(pkt); err != nil {
		return false
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return false
	}
	ok := ack[0] == 0x20 && ack[1] == 2 && ack[3] == 0 // CONNACK, accepted
	if ok {
		conn.Write([]byte{0xe0, 0}) // DISCONNECT
	}
	return ok
}

// Start starts a broker on addr, which must be a loopback address:
// the embedded broker accepts every client and is not for the network.
func Start(addr string, log *slog.Logger) (*Embedded, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("embedded broker address %q: only loopback addresses are allowed", addr)
	}
	// Check the port first, so that a busy port is a clear error now.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: embedded broker on %s: %w", ErrBusy, addr, err)
		}
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	l.Close()
	// Any local process may connect: bound what one can make edged hold.
	// Without a packet limit a client's fixed header alone (a claimed
	// length up to 256 MiB) makes the broker allocate that much.
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = MaxPacket
	caps.MaximumClients = MaxClients
	caps.MaximumClientWritesPending = 1024
	closing := new(atomic.Bool)
	blog := slog.New(logHandler{log.Handler(), closing}).With("component", "embedded-broker")
	srv := mochi.New(&mochi.Options{Logger: blog, Capabilities: caps})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})); err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", addr, err)
	}
	return &Embedded{srv: srv, addr: addr, closing: closing}, nil
}

// URL returns the broker's tcp:// URL.
func (b *Embedded) URL() string { return "tcp://" + b.addr }

// Close stops the broker.
func (b *Embedded) Close() error {
	b.closing.Store(true)
	return b.srv.Close()
}
