package broker

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
)

// logHandler tidies what mochi logs: its listeners log a client's
// connection error with an empty message, and at shutdown every open
// connection ends with "use of closed network connection", which is
// expected there and no warning.
type logHandler struct {
	slog.Handler
	closing *atomic.Bool
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "" {
		r.Message = "client connection ended with an error"
		if h.closing.Load() || closedConn(r) {
			r.Level = slog.LevelDebug
			r.Message = "client connection closed"
		}
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) Enabled(context.Context, slog.Level) bool {
	return true // Handle decides, after a record's level may have changed
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as), h.closing}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name), h.closing}
}

// closedConn reports whether a record's error is the read on a
// connection that was closed under it.
func closedConn(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" && strings.Contains(a.Value.String(), "use of closed network connection") {
			found = true
		}
		return !found
	})
	return found
}
