package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/sdnotify"
	"github.com/edged-io/edged/internal/statusapi"
)

// supervisor keeps systemd informed while the pipeline runs: READY=1 once
// the daemon serves, a STATUS= line whenever the summary changes, and
// watchdog pings only while no camera's capture or inference is stuck.
type supervisor struct {
	notify   *sdnotify.Notifier
	snapshot func() statusapi.Snapshot
	// stalls lists the pipeline stages stuck in one operation for longer
	// than limit (pipeline.Pipeline.Stalls).
	stalls func(now time.Time, limit time.Duration) []string
	log    *slog.Logger
	tick   time.Duration // how often readiness and status are looked at
	// readySent is set once READY=1 went out; reloads say RELOADING=1 and
	// READY=1 again only after it.
	readySent atomic.Bool
}

// run reports until ctx ends.
func (s *supervisor) run(ctx context.Context) {
	wd := s.notify.WatchdogTimeout()
	ping := time.NewTicker(max(wd/2, time.Millisecond))
	if wd == 0 {
		ping.Stop()
	}
	defer ping.Stop()
	look := time.NewTicker(s.tick)
	defer look.Stop()
	ready, status, stuck := false, "", ""
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ping.C:
			// A stage stuck for longer than the watchdog timeout means a
			// hung device or engine: stop pinging and let systemd restart
			// edged. Reconnecting, waiting and idling are not stuck.
			st := s.stalls(now, wd)
			if len(st) == 0 {
				if stuck != "" {
					s.log.Info("pipeline moving again; watchdog pings resume")
					stuck = ""
				}
				s.send("WATCHDOG", s.notify.Watchdog())
				continue
			}
			if msg := strings.Join(st, "; "); msg != stuck {
				stuck = msg
				s.log.Error("pipeline stuck: watchdog pings stop, systemd will restart edged", "stalls", msg)
				s.send("STATUS", s.notify.Status("stuck: "+msg))
			}
		case <-look.C:
			snap := s.snapshot()
			sum := summary(snap)
			if !ready && snap.Ready() {
				ready = true
				s.readySent.Store(true)
				status = sum
				s.log.Info("ready", "status", sum)
				s.send("READY", s.notify.Ready(sum))
				returnIdleHeap()
				continue
			}
			if sum != status && stuck == "" {
				status = sum
				s.send("STATUS", s.notify.Status(sum))
			}
		}
	}
}

// returnIdleHeap returns to the operating system the Go heap that
// start-up or a reload used and let go: the model file read before its
// bytes go to the runtime, configuration, labels. edged allocates nothing
// per frame, so at a few frames a second no garbage collection runs after
// start-up, and the runtime's scavenger, which paces itself by the last
// collection's heap goal, keeps that heap resident: about 11 MB of
// anonymous memory with the bundled model (docs/performance.md). One
// forced collection of a heap of a few MB frees it.
func returnIdleHeap() { debug.FreeOSMemory() }

// send logs a notification that could not be delivered; a daemon outside
// systemd never gets here (the notifier does nothing there).
func (s *supervisor) send(what string, err error) {
	if err != nil {
		s.log.Warn("systemd notification failed", "notification", what, "err", err)
	}
}

// summary is the one-line state systemctl status shows, e.g.
// "2/3 cameras streaming (door: reconnecting); broker connected".
func summary(s statusapi.Snapshot) string {
	names := make([]string, 0, len(s.Cameras))
	for n := range s.Cameras {
		names = append(names, n)
	}
	sort.Strings(names)
	streaming := 0
	var others []string
	for _, n := range names {
		switch st := s.Cameras[n].State; st {
		case result.Streaming:
			streaming++
		default:
			others = append(others, n+": "+string(st))
		}
	}
	out := fmt.Sprintf("%d/%d cameras streaming", streaming, len(names))
	if len(others) > 0 {
		out += " (" + strings.Join(others, ", ") + ")"
	}
	if b := s.Broker; b != nil {
		switch {
		case b.Connected:
			out += "; broker connected"
		case b.Ready:
			out += "; broker away, results queued"
		default:
			out += "; broker away"
		}
	}
	return out
}
