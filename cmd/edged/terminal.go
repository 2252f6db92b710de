package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/watch"
)

// terminal is `edged run`'s live view on a terminal: one line per camera
// (top label and score, or the regions' states; results per second;
// latency), redrawn in place every second, with the latest log lines
// under it instead of log lines scrolling between results.
type terminal struct {
	w      *watch.Watcher
	out    io.Writer
	title  string
	logs   *logRing
	mu     sync.Mutex
	closed bool
}

func newTerminal(out io.Writer, prefix, device, title string) *terminal {
	w := watch.New(prefix, nil)
	w.SetOnline(device, "local")
	return &terminal{w: w, out: out, title: title, logs: &logRing{max: 8}}
}

// Write implements publish.Output: each result and state goes into the
// table.
func (t *terminal) Write(_ context.Context, m publish.Message) error {
	t.w.Handle(m.Topic, m.Payload)
	return nil
}

// run redraws until ctx ends, then leaves the last table and the log on
// the terminal.
func (t *terminal) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		t.draw(true)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *terminal) draw(clear bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	var b strings.Builder
	if clear {
		b.WriteString("\x1b[H\x1b[2J")
	}
	fmt.Fprintf(&b, "%s   (Ctrl-C stops; --stdout prints JSON lines instead)\n\n", t.title)
	t.w.Table(&b)
	b.WriteString("\n")
	for _, l := range t.logs.lines() {
		b.WriteString(l)
	}
	io.WriteString(t.out, b.String())
}

// close draws the view a last time, without clearing, and stops drawing.
func (t *terminal) close() {
	t.draw(false)
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}

// logRing keeps the last max log lines written to it.
type logRing struct {
	mu   sync.Mutex
	max  int
	keep []string
	part string
}

func (r *logRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.part + string(p)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		r.keep = append(r.keep, s[:i+1])
		if len(r.keep) > r.max {
			r.keep = r.keep[len(r.keep)-r.max:]
		}
		s = s[i+1:]
	}
	r.part = s
	return len(p), nil
}

func (r *logRing) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.keep...)
}
