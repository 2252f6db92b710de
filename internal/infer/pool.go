package infer

import (
	"fmt"
	"runtime"
	"strconv"
)

// PoolSize works out how many sessions the cameras running a model share,
// from its configuration: pool is "auto" (or ""), "off", or a number of
// sessions from 1 to MaxPool; threads is the model's inference threads per
// session (0: the runtime's choice).
// It returns 0 for "off": one session per camera, as before pools.
//
// auto is the number of CPUs divided by the threads of one session (at
// least 1): as many single-thread invokes at once as there are cores.
func PoolSize(pool string, threads int) (int, error) {
	switch pool {
	case "", "auto":
		if threads <= 0 {
			return 1, nil
		}
		return max(1, runtime.NumCPU()/threads), nil
	case "off":
		return 0, nil
	}
	n, err := strconv.Atoi(pool)
	if err != nil || n < 1 || n > MaxPool {
		return 0, fmt.Errorf("%q is not auto, off or a number of sessions from 1 to %d", pool, MaxPool)
	}
	return n, nil
}

// MaxPool bounds a pool's sessions (each holds the model's packed weights
// and its own tensors).
const MaxPool = 64
