// Package procfs reads a process's memory figures from /proc, for the
// benchmarks that compare whole processes.
package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory, and of it the anonymous
// (private) and file-backed parts, in MB; zeros when it cannot be read.
func Memory(pid int) (rss, anon, file float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		case "RssFile:":
			file = kb / 1024
		}
	}
	return
}
