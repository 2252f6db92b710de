package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/metrics"
	"github.com/edged-io/edged/internal/outbox"
	"github.com/edged-io/edged/internal/publish/mqtt"
)

// QueuePath is where the outbound queue lives: queue.path when set, else a
// file named for target (the broker and device its results are for) in
// systemd's $STATE_DIRECTORY, else /var/lib/edged as root, else
// $XDG_STATE_HOME/edged (~/.local/state/edged). Runs that publish
// elsewhere so never share a queue: results queued for one broker and
// device are never delivered to another.
func QueuePath(configured, target string) string {
	return queuePath(configured, "", target)
}

// queuePath is QueuePath in the configured state directory stateDir
// ("" for the default one).
func queuePath(configured, stateDir, target string) string {
	if configured != "" {
		return configured
	}
	sum := sha256.Sum256([]byte(target))
	return filepath.Join(StateDir(stateDir), "queue-"+hex.EncodeToString(sum[:6])+".db")
}

// StateDir is where edged keeps what lasts between runs: state_dir when
// set, else systemd's $STATE_DIRECTORY, else /var/lib/edged as root, else
// $XDG_STATE_HOME/edged (~/.local/state/edged).
func StateDir(configured string) string {
	if configured != "" {
		return configured
	}
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		// systemd lists one folder per StateDirectory= entry, colon-separated.
		d, _, _ = strings.Cut(d, ":")
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/edged"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "edged")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".local", "state", "edged")
}

// queue is the outbound queue in front of the publisher, with its
// delivery goroutine.
type queue struct {
	ob   *outbox.Outbox
	pub  *mqtt.Publisher
	stop context.CancelFunc
	done chan struct{}
	log  *slog.Logger
}

// startQueue opens the queue file and starts delivering through pub.
func startQueue(ctx context.Context, c config.Queue, stateDir, target string, pub *mqtt.Publisher, met *metrics.Metrics, log *slog.Logger) (*queue, error) {
	path := queuePath(c.Path, stateDir, target)
	o := queueOptions(c, path)
	o.Target = target
	o.Log, o.Metrics = log, outbox.NewMetrics(met.Registry())
	ob, err := outbox.Open(o)
	if err != nil {
		return nil, err
	}
	log.Info("outbound queue open", "path", path, "max_bytes", c.MaxBytes, "max_age", c.MaxAge, "policy", c.Policy)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	q := &queue{ob: ob, pub: pub, stop: stop, done: make(chan struct{}), log: log}
	go func() {
		defer close(q.done)
		ob.Run(runCtx, pub)
	}()
	return q, nil
}

// drain gives the queued results up to timeout to reach the broker, when
// it is connected; what is left stays in the file for the next run.
func (q *queue) drain(ctx context.Context, timeout time.Duration) {
	if !q.pub.Connected() {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if !q.ob.Drain(dctx) {
		q.log.Warn("queue not drained at shutdown; the rest is delivered by the next run", "left", q.ob.Stats().Depth)
	}
}

// close stops delivery and closes the file.
func (q *queue) close() {
	q.stop()
	<-q.done
	if err := q.ob.Close(); err != nil {
		q.log.Error("closing the queue", "err", err)
	}
}
