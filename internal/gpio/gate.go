package gpio

import "sync/atomic"

// Gate decides, frame by frame, whether a camera's frame is inferred. It
// satisfies pipeline.Gate. A gate is safe for concurrent use: the input's
// watcher opens and closes it while the camera's worker asks.
type Gate struct {
	burst  int          // frames per trigger; 0: while_active mode
	active atomic.Bool  // while_active: the input is active
	left   atomic.Int64 // burst: frames still allowed
}

// Allow reports whether the frame at hand is to be inferred. In burst mode
// each call that returns true uses up one frame of the burst.
func (g *Gate) Allow() bool {
	if g.burst == 0 {
		return g.active.Load()
	}
	for {
		n := g.left.Load()
		if n <= 0 {
			return false
		}
		if g.left.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// set applies the input's accepted level: while_active follows it, burst
// starts a new burst of frames on each rising edge (a trigger while a burst
// runs starts it over rather than adding up).
func (g *Gate) set(active bool) {
	was := g.active.Swap(active)
	if g.burst > 0 && active && !was {
		g.left.Store(int64(g.burst))
	}
}
