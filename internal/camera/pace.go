package camera

// Pacing of files and folders (pull mode): the next frame is read just in
// time for the consumer, its cost predicted from the reads before it.

import (
	"context"
	"time"
)

// WantNextAt tells a file or folder source when the consumer expects to
// want its next frame (when the running inference should end). The frame is
// then read and resized just in time for it rather than ahead, so results
// keep their capture-to-publish latency low without losing throughput.
// Live sources ignore it: they deliver the newest frame as it comes.
func (c *Camera) WantNextAt(t time.Time) {
	c.wantAt.Store(t.UnixNano())
}

// pace holds a file or folder's next read until the consumer has taken
// the previous frame and, when it said when it wants the next one, until
// that moment less the usual cost of a read and a lead; it reports false
// when ctx ended first.
//
// The lead tracks the median lateness: it grows by a step whenever the
// consumer had to wait for a frame and shrinks by one when the frame was
// ready first, which settles where half the frames are a little late. A
// late frame costs the consumer at most the rest of one read; an early one
// costs its result the time it sat ready. Additive steps keep one slow
// invoke or a scheduling hiccup from inflating the lead (and the latency of
// the frames after it) the way doubling would.
func (c *Camera) pace(ctx context.Context) bool {
	select {
	case <-c.taken:
	case <-ctx.Done():
		return false
	}
	c.lead = nextLead(c.lead, c.waited.Swap(false))
	if at := c.wantAt.Load(); at != 0 {
		return c.sleep(ctx, time.Until(time.Unix(0, at))-c.nextReadCost()-c.lead)
	}
	return true
}

// nextLead is the read-ahead lead after a frame: one step more if the
// consumer had to wait for it, one step less if it was ready first.
func nextLead(lead time.Duration, waited bool) time.Duration {
	const step, maxLead = 100 * time.Microsecond, 20 * time.Millisecond
	if waited {
		return min(lead+step, maxLead)
	}
	return max(lead-step, 0)
}

// nextReadCost predicts how long the next read and resize take: for a
// folder from the next file's size, otherwise the moving average.
func (c *Camera) nextReadCost() time.Duration {
	c.nextSize = 0
	if c.folder == nil {
		return c.readCost
	}
	size, idx := c.folder.nextSize()
	if size <= 0 {
		return c.readCost
	}
	c.nextSize, c.nextIdx = size, idx
	if c.perByte == 0 {
		return c.readCost
	}
	return time.Duration(c.perByte * float64(c.nextSize))
}

// readTook folds one paced read's duration d into the cost estimates.
func (c *Camera) readTook(d time.Duration) {
	c.readCost = ema(c.readCost, d) // the first read starts the average
	if c.nextSize > 0 && c.folder != nil && c.nextIdx == c.folder.next-1 {
		if pb := float64(d) / float64(c.nextSize); c.perByte == 0 {
			c.perByte = pb
		} else {
			c.perByte = (7*c.perByte + pb) / 8
		}
	}
}
