package infer

import (
	"runtime"
	"strings"
	"testing"
)

func TestPoolSize(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, c := range []struct {
		pool    string
		threads int
		want    int
	}{
		{"auto", 1, cpus},
		{"", 1, cpus},
		{"auto", 0, 1},
		{"auto", cpus, 1},
		{"auto", 2 * cpus, 1},
		{"off", 1, 0},
		{"1", 4, 1},
		{"3", 1, 3},
		{"64", 1, 64},
	} {
		got, err := PoolSize(c.pool, c.threads)
		if err != nil || got != c.want {
			t.Errorf("PoolSize(%q, %d) = %d, %v; want %d", c.pool, c.threads, got, err, c.want)
		}
	}
	for _, bad := range []string{"0", "65", "-1", "2.5", "many", " 2", "0x2"} {
		if n, err := PoolSize(bad, 1); err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("PoolSize(%q) = %d, %v; want an error naming the value", bad, n, err)
		}
	}
}
