// Package sdnotify tells systemd about the daemon's state through the
// notification socket ($NOTIFY_SOCKET): READY=1 once it serves,
// RELOADING=1 and STOPPING=1 around reloads and shutdown, STATUS= lines
// for `systemctl status`, and WATCHDOG=1 keep-alive pings. Outside systemd
// (no $NOTIFY_SOCKET) every call does nothing and returns nil.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends notifications to systemd's socket.
type Notifier struct {
	addr     *net.UnixAddr // nil outside systemd
	watchdog time.Duration // zero when the watchdog is off for this process
}

// New reads the socket and watchdog settings systemd put in the
// environment. getenv is os.Getenv in production.
func New(getenv func(string) string) (*Notifier, error) {
	n := &Notifier{}
	if sock := getenv("NOTIFY_SOCKET"); sock != "" {
		if sock[0] != '/' && sock[0] != '@' {
			return nil, fmt.Errorf("NOTIFY_SOCKET %q: not a path or an abstract socket name", sock)
		}
		name := sock
		if sock[0] == '@' {
			name = "\x00" + sock[1:]
		}
		n.addr = &net.UnixAddr{Name: name, Net: "unixgram"}
	}
	d, err := watchdogInterval(getenv, os.Getpid())
	if err != nil {
		return nil, err
	}
	n.watchdog = d
	return n, nil
}

// watchdogInterval returns the watchdog timeout systemd set for process
// pid, or zero when there is none (or it is meant for another process).
func watchdogInterval(getenv func(string) string, pid int) (time.Duration, error) {
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		wp, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("WATCHDOG_PID %q: %w", p, err)
		}
		if wp != pid {
			return 0, nil
		}
	}
	v, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC %q: not a positive number of microseconds", usec)
	}
	return time.Duration(v) * time.Microsecond, nil
}

// Enabled reports whether the process runs under systemd with a
// notification socket.
func (n *Notifier) Enabled() bool { return n.addr != nil }

// WatchdogTimeout is the watchdog timeout systemd expects pings within, or
// zero when the watchdog is off. Ping at half of it.
func (n *Notifier) WatchdogTimeout() time.Duration { return n.watchdog }

// Ready says the daemon is serving, with a status line.
func (n *Notifier) Ready(status string) error {
	return n.send("READY=1", status)
}

// Reloading says a reload has begun; send Ready when it is done.
func (n *Notifier) Reloading(status string) error {
	// systemd wants CLOCK_MONOTONIC in microseconds.
	usec, ok := monotonicUsec()
	if !ok {
		return n.send("RELOADING=1", status)
	}
	return n.send("RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(usec, 10), status)
}

// Stopping says the daemon is shutting down.
func (n *Notifier) Stopping(status string) error {
	return n.send("STOPPING=1", status)
}

// Status updates the free-form status line `systemctl status` shows.
func (n *Notifier) Status(status string) error {
	return n.send("", status)
}

// Watchdog pings the service manager's watchdog.
func (n *Notifier) Watchdog() error {
	return n.send("WATCHDOG=1", "")
}

// send writes one datagram: the state lines and an optional STATUS= line.
func (n *Notifier) send(state, status string) error {
	if n.addr == nil {
		return nil
	}
	msg := state
	if status != "" {
		// A status line must not smuggle in other assignments.
		status = strings.NewReplacer("\n", " ", "\r", " ").Replace(status)
		if msg != "" {
			msg += "\n"
		}
		msg += "STATUS=" + status
	}
	if msg == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", firstLine(msg), err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
