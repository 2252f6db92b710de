//go:build !linux

package sdnotify

// monotonicUsec is unavailable off Linux, where there is no systemd.
func monotonicUsec() (int64, bool) { return 0, false }
