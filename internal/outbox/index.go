package outbox

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The in-memory index of what the queue file holds: loaded at open, kept in
// key order, searched and trimmed by the writer and the delivery loop.

// load reads the index of what the file holds, deleting unreadable records.
func (o *Outbox) load() error {
	return o.db.Update(func(tx *bolt.Tx) error {
		if err := o.checkTarget(tx); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		var bad [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			it, _, err := decode(k, v)
			if err != nil {
				bad = append(bad, append([]byte(nil), k...))
				continue
			}
			o.items = append(o.items, it)
			o.bytes += it.size
			o.next = it.key
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
			o.met.dropped.WithLabelValues(ReasonCorrupt).Inc()
		}
		if len(bad) > 0 {
			o.log.Warn("queue: deleted unreadable records", "records", len(bad))
		}
		o.next++
		if o.next < b.Sequence() {
			o.next = b.Sequence()
		}
		return nil
	})
}

// find returns the index of key k in items, or -1. Called with o.mu held.
func (o *Outbox) find(k uint64) int {
	lo, hi := 0, len(o.items)
	for lo < hi {
		m := (lo + hi) / 2
		if o.items[m].key < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(o.items) && o.items[lo].key == k {
		return lo
	}
	return -1
}

// removeAt removes items[i], keeping the byte counts. Called with o.mu held.
func (o *Outbox) removeAt(i int) {
	it := o.items[i]
	if it.mem {
		o.memBytes -= it.size
	} else {
		o.bytes -= it.size
	}
	o.items = append(o.items[:i], o.items[i+1:]...)
}

var (
	metaBucket = []byte("meta")
	targetKey  = []byte("target")
)

// ErrOtherTarget is wrapped by Open's error for a queue file that holds
// results for another broker or device than Options.Target.
var ErrOtherTarget = errors.New("the queue belongs to another broker or device")

// checkTarget records the queue's target in a new file and refuses a file
// recorded for another one. A file from before targets were recorded takes
// the current one.
func (o *Outbox) checkTarget(tx *bolt.Tx) error {
	if o.opts.Target == "" {
		return nil
	}
	m, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	if have := m.Get(targetKey); have != nil {
		if string(have) != o.opts.Target {
			return fmt.Errorf("%w: it holds results for %q and this run publishes to %q; point queue.path (--queue) at another file, or let a run with that broker and device deliver them",
				ErrOtherTarget, have, o.opts.Target)
		}
		return nil
	}
	return m.Put(targetKey, []byte(o.opts.Target))
}
