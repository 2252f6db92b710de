// Package nativelog takes over the process's standard error, file
// descriptor 2, so that what C libraries print there (the TFLite and
// LiteRT runtimes' INFO and WARNING lines, FFmpeg's and OpenCV's
// messages) goes through the daemon's structured logger at a level the
// user chose, instead of raw text interleaved with its JSON.
//
// Go code keeps the original standard error through Capture.Stderr, and a
// fatal Go error is still written there (runtime/debug.SetCrashOutput), so
// nothing the daemon says itself is hidden.
package nativelog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
)

// MaxLine is the longest line kept; the rest of a longer one is cut.
const MaxLine = 4096

// maxHeld bounds the lines kept while no logger is set yet.
const maxHeld = 256

// Capture reads what is written to file descriptor 2 line by line.
type Capture struct {
	stderr *os.File // the original standard error
	r      *os.File // read end of the pipe now on descriptor 2
	done   chan struct{}

	mu     sync.Mutex
	log    *slog.Logger
	held   []string
	closed bool
}

// Start points descriptor 2 at a pipe read by the Capture. The original
// standard error stays open as Stderr.
func Start() (*Capture, error) {
	orig, err := syscall.Dup(2)
	if err != nil {
		return nil, fmt.Errorf("nativelog: duplicating standard error: %w", err)
	}
	syscall.CloseOnExec(orig)
	stderr := os.NewFile(uintptr(orig), "/dev/stderr")
	r, w, err := os.Pipe()
	if err != nil {
		stderr.Close()
		return nil, fmt.Errorf("nativelog: %w", err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		stderr.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("nativelog: redirecting standard error: %w", err)
	}
	w.Close() // descriptor 2 is now the pipe's only write end
	if err := debug.SetCrashOutput(stderr, debug.CrashOptions{}); err != nil {
		// Not fatal: the crash still goes to descriptor 2, only to the log.
		fmt.Fprintln(stderr, "nativelog: crash output:", err)
	}
	c := &Capture{stderr: stderr, r: r, done: make(chan struct{})}
	go c.read()
	return c, nil
}

// Stderr is the process's original standard error: where the daemon's
// own log goes.
func (c *Capture) Stderr() *os.File { return c.stderr }

// SetLogger sends captured lines to log from now on, after the lines held
// until now.
func (c *Capture) SetLogger(log *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = log
	for _, line := range c.held {
		emit(log, line)
	}
	c.held = nil
}

// Close gives descriptor 2 back to the original standard error and
// waits until every line written before is logged. Lines held because
// no logger was ever set are dropped: they were the runtime's chatter.
func (c *Capture) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	err := syscall.Dup3(int(c.stderr.Fd()), 2, 0)
	if err != nil {
		err = fmt.Errorf("nativelog: restoring standard error: %w", err)
	} else {
		<-c.done // the pipe has no writer left: the reader drains it and ends
	}
	debug.SetCrashOutput(nil, debug.CrashOptions{})
	return err
}

func (c *Capture) read() {
	defer close(c.done)
	defer c.r.Close()
	br := bufio.NewReaderSize(c.r, MaxLine)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			c.line(line)
		}
		if err != nil {
			return
		}
	}
}

// readLine returns the next line without its end, cut at MaxLine.
func readLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if len(buf) < MaxLine {
			buf = append(buf, part[:min(len(part), MaxLine-len(buf))]...)
		}
		if err != nil || !isPrefix {
			if err == io.EOF && len(buf) > 0 {
				err = nil
			}
			return string(bytes.TrimRight(buf, "\r")), err
		}
	}
}

func (c *Capture) line(s string) {
	if s == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		if len(c.held) < maxHeld {
			c.held = append(c.held, s)
		}
		return
	}
	emit(c.log, s)
}

func emit(log *slog.Logger, s string) {
	log.Log(context.Background(), Level(s), s, "from", "native")
}

// Level is the level a native line is logged at: debug for the
// runtimes' INFO and WARNING chatter and FFmpeg's and OpenCV's messages,
// warn for a line the library itself marks as an error (TFLite's
// "ERROR:", OpenCV's "[ERROR:", Abseil's "E1202 …" and "F1202 …"), and
// for OpenCV's warnings that say why a GStreamer pipeline did not start
// (a missing element, a source that reported an error), which is all a
// user has to go on.
func Level(s string) slog.Level {
	if strings.HasPrefix(s, "ERROR:") || strings.HasPrefix(s, "[ERROR:") {
		return slog.LevelWarn
	}
	if strings.Contains(s, "GStreamer warning: Error opening bin") || strings.Contains(s, "GStreamer warning: Embedded video playback halted") {
		return slog.LevelWarn
	}
	if len(s) > 5 && (s[0] == 'E' || s[0] == 'F') && digits(s[1:5]) {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
