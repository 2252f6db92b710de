package outbox

import (
	"log/slog"
	"time"
)

// The rate-limited log of drops and write errors.

// dropLog logs drops and write errors at a bounded rate: the first at
// once, then a summary at most once per every.
type dropLog struct {
	log       *slog.Logger
	every     time.Duration
	counts    map[string]int
	last      time.Time
	errCount  int
	errLast   time.Time
	lastErr   error
	errResult int
	failing   bool
	okLast    time.Time
}

func (d *dropLog) add(reason string, n int) { d.counts[reason] += n }

func (d *dropLog) flush(force bool) {
	if len(d.counts) == 0 || (!force && time.Since(d.last) < d.every) {
		return
	}
	args := []any{}
	total := 0
	for r, n := range d.counts {
		args = append(args, r, n)
		total += n
	}
	d.log.Warn("queue dropped results", append([]any{"dropped", total, "per_reason", slog.GroupValue(toAttrs(args)...)}, "since", d.since())...)
	clear(d.counts)
	d.last = time.Now()
}

func (d *dropLog) since() string {
	if d.last.IsZero() {
		return "start"
	}
	return d.last.UTC().Format(time.RFC3339)
}

func toAttrs(kv []any) []slog.Attr {
	out := make([]slog.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, slog.Any(kv[i].(string), kv[i+1]))
	}
	return out
}

func (d *dropLog) writeError(err error, results int) {
	d.errCount++
	d.errResult += results
	d.lastErr = err
	if time.Since(d.errLast) >= d.every { // a disk that flaps logs no more often
		d.log.Error("queue: the disk refused a commit; results are kept in memory (not durable) until it works again",
			"err", err, "failed_commits", d.errCount, "results", d.errResult)
		d.errLast = time.Now()
		d.errCount, d.errResult = 0, 0
	}
	d.failing = true
}

func (d *dropLog) writeOK() {
	if d.failing && time.Since(d.okLast) >= d.every {
		d.log.Info("queue: commits work again")
		d.okLast = time.Now()
	}
	d.failing = false
}
