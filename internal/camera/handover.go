package camera

// The hand-over of frames to the consumer: live sources replace an
// unconsumed frame (latest frame wins), files and folders wait for it.

import (
	"context"
	"fmt"
	"time"

	"gocv.io/x/gocv"
)

// Next blocks until the next frame, ctx's end, or the end of input.
func (c *Camera) Next(ctx context.Context) (*Frame, error) {
	select {
	case f := <-c.ready:
		return c.took(f), nil
	default:
	}
	c.waited.Store(true)
	c.waiting.Store(true)
	defer c.waiting.Store(false)
	select {
	case f := <-c.ready:
		return c.took(f), nil
	case <-c.ended:
		select {
		case f := <-c.ready:
			return c.took(f), nil
		default:
			return nil, ErrEndOfInput
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// took lets a paced (file or folder) capture read on.
func (c *Camera) took(f *Frame) *Frame {
	if !c.src.Kind.Live() {
		select {
		case c.taken <- struct{}{}:
		default:
		}
	}
	return f
}

// Release gives a frame's buffer back for reuse.
func (c *Camera) Release(f *Frame) {
	if f == nil {
		return
	}
	select {
	case c.pool <- f:
	default:
	}
}

// deliver crops and resizes c.raw into a pooled frame and hands it over.
func (c *Camera) deliver(ctx context.Context, number uint64, file string, t0 time.Time) error {
	t1 := time.Now()
	if c.raw.Channels() != 3 || c.raw.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("frame has %d channels of type %v, want 8-bit BGR", c.raw.Channels(), c.raw.Type())
	}
	if err := c.plan(); err != nil {
		return err
	}
	c.takeSnapshot(number, t0)
	var f *Frame
	if c.src.Kind.Live() {
		select {
		case f = <-c.pool:
		default:
			// Every buffer is busy: the unconsumed frame is replaced.
			select {
			case f = <-c.ready:
				c.dropped.Add(1)
			case f = <-c.pool:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	} else {
		select {
		case f = <-c.pool:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := c.resize(f); err != nil {
		c.Release(f)
		return err
	}
	f.Number, f.Captured, f.File = number, t0, file
	f.ReadDur, f.ResizeDur = t1.Sub(t0), time.Since(t1)
	if c.src.Kind.Live() {
		select {
		case c.ready <- f:
		default:
			select {
			case old := <-c.ready:
				c.dropped.Add(1)
				c.Release(old)
			default:
			}
			c.ready <- f
		}
		return nil
	}
	select {
	case c.ready <- f:
		return nil
	case <-ctx.Done():
		c.Release(f)
		return ctx.Err()
	}
}
