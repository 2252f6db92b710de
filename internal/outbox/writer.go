package outbox

import (
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The writer: one goroutine commits accepted messages in groups, makes
// room by the policy, and falls back to the memory lane when the disk
// refuses a commit.

// writer owns every write transaction: it commits the results that arrived
// together in one transaction, along with the deletes of delivered ones,
// the policy's drops and the age expiry.
func (o *Outbox) writer() {
	defer close(o.stopped)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var batch []*request
	var dels []uint64
	for {
		expire := false
		select {
		case r := <-o.reqs:
			batch = append(batch, r)
		case k := <-o.acked:
			dels = append(dels, k)
		case <-tick.C:
			expire = true
		case <-o.stop:
			// Publish cannot be running (Close holds closeMu), so reqs is
			// empty; commit the last deletes.
			for {
				select {
				case k := <-o.acked:
					dels = append(dels, k)
					continue
				default:
				}
				break
			}
			o.commit(nil, dels, false)
			o.drops.flush(true)
			return
		}
	more:
		for len(batch) < 1024 {
			select {
			case r := <-o.reqs:
				batch = append(batch, r)
			case k := <-o.acked:
				dels = append(dels, k)
			default:
				break more
			}
		}
		dels = o.commit(batch, dels, expire)
		for _, r := range batch {
			close(r.done)
		}
		batch = batch[:0]
		o.drops.flush(false)
	}
}

// commit writes one transaction: deletes of delivered items, expiry,
// room for the new items per the policy, and the new items. It returns
// the deletes that could not be written (retried with the next commit).
func (o *Outbox) commit(batch []*request, dels []uint64, expire bool) []uint64 {
	now := time.Now()
	o.mu.Lock()
	// Plan under the lock: which items leave (age, policy) and which new
	// ones are refused. The index changes only after the commit.
	victims := map[uint64]string{}
	if expire && o.opts.MaxAge > 0 {
		limit := now.Add(-o.opts.MaxAge).UnixNano()
		for i := range o.items {
			it := &o.items[i]
			if it.accepted >= limit {
				break
			}
			if it.key != o.sending {
				victims[it.key] = ReasonAge
			}
		}
	}
	bytes := o.bytes
	for i := range o.items {
		if _, ok := victims[o.items[i].key]; ok && !o.items[i].mem {
			bytes -= o.items[i].size
		}
	}
	var accept []*request
	for _, r := range batch {
		if r.it.size > o.opts.MaxBytes {
			o.drop(ReasonTooBig, 1)
			continue
		}
		if bytes+r.it.size > o.opts.MaxBytes {
			freed := o.makeRoom(victims, bytes+r.it.size-o.opts.MaxBytes, false, r.it.change)
			if freed < 0 {
				o.drop(ReasonFull, 1) // the policy refuses the new one
				continue
			}
			bytes -= freed
		}
		r.it.key = o.next
		o.next++
		bytes += r.it.size
		accept = append(accept, r)
	}
	// The new items join the index now, payload in memory, so delivery can
	// send them while the commit runs: see docs/delivery.md for why that
	// is safe. A delivered item's delete reaches this goroutine only after
	// this commit, so it always lands in a later transaction.
	for _, r := range accept {
		it := r.it
		_, it.payload, _ = decode(keyBytes(it.key), r.data)
		o.items = append(o.items, it)
		o.bytes += it.size
	}
	if len(accept) > 0 {
		o.signal()
	}
	o.mu.Unlock()
	if len(accept) > 0 {
		// Let the delivery goroutine send before this goroutine spends its
		// time slice on the transaction and its fsyncs.
		runtime.Gosched()
	}

	if len(dels) == 0 && len(victims) == 0 && len(accept) == 0 {
		return nil
	}
	t0 := time.Now()
	err := safe(func() error {
		return o.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketName)
			for _, k := range dels {
				if err := b.Delete(keyBytes(k)); err != nil {
					return err
				}
			}
			for k := range victims {
				if err := b.Delete(keyBytes(k)); err != nil {
					return err
				}
			}
			for _, r := range accept {
				if err := b.Put(keyBytes(r.it.key), r.data); err != nil {
					return err
				}
			}
			if len(accept) > 0 {
				return b.SetSequence(o.next)
			}
			return nil
		})
	})
	o.met.commit.Observe(time.Since(t0).Seconds())

	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.writeFailed(err, len(accept))
		// Victims chosen among durable items stay on disk; those in the
		// memory lane go (they were never written).
		for k, reason := range victims {
			if i := o.find(k); i >= 0 && o.items[i].mem {
				o.removeAt(i)
				o.drop(reason, 1)
			}
		}
		// The new items not yet delivered stay, in the memory lane.
		for _, r := range accept {
			if i := o.find(r.it.key); i >= 0 {
				o.items[i].mem = true
				o.bytes -= r.it.size
				o.memBytes += r.it.size
			}
		}
		o.boundMemory()
		return dels
	}
	o.writeWorked()
	for k, reason := range victims {
		if i := o.find(k); i >= 0 {
			o.removeAt(i)
			o.drop(reason, 1)
		}
	}
	for _, r := range accept {
		if i := o.find(r.it.key); i >= 0 {
			o.items[i].payload = nil // on disk now
		}
	}
	return nil
}

// makeRoom chooses durable victims (not yet chosen, not being sent) worth
// at least need bytes, per the policy. It returns the bytes freed, or -1
// when the policy refuses the new item instead. Called with o.mu held.
func (o *Outbox) makeRoom(victims map[uint64]string, need int64, memory bool, newIsChange bool) int64 {
	var chosen []uint64
	var freed int64
	pick := func(only func(*item) bool) {
		for i := range o.items {
			if freed >= need {
				return
			}
			it := &o.items[i]
			if _, gone := victims[it.key]; gone || it.key == o.sending || it.mem != memory || !only(it) {
				continue
			}
			victims[it.key] = ReasonFull
			chosen = append(chosen, it.key)
			freed += it.size
		}
	}
	switch o.opts.Policy {
	case DropNewest:
		return -1
	case KeepStateChanges:
		// Repeats of the previous top label go first; a new repeat is
		// refused rather than pushing out a state change.
		pick(func(it *item) bool { return !it.change })
		if freed < need && newIsChange {
			pick(func(*item) bool { return true })
		}
	default:
		pick(func(*item) bool { return true })
	}
	if freed < need {
		for _, k := range chosen {
			delete(victims, k)
		}
		return -1
	}
	return freed
}

// boundMemory applies the policy to the memory lane's bound; what goes is
// counted as dropped for reason "disk". Called with o.mu held.
func (o *Outbox) boundMemory() {
	over := o.memBytes - o.opts.MemoryBytes
	if over <= 0 {
		return
	}
	victims := map[uint64]string{}
	if o.makeRoom(victims, over, true, true) >= 0 {
		for k := range victims {
			if i := o.find(k); i >= 0 {
				o.removeAt(i)
				o.drop(ReasonDisk, 1)
			}
		}
		return
	}
	// drop_newest (or nothing else eligible): the newest go.
	for i := len(o.items) - 1; i >= 0 && o.memBytes > o.opts.MemoryBytes; i-- {
		if o.items[i].mem && o.items[i].key != o.sending {
			o.removeAt(i)
			o.drop(ReasonDisk, 1)
		}
	}
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// drop counts n results dropped for reason; the log line comes at most
// once per LogEvery.
func (o *Outbox) drop(reason string, n int) {
	o.met.dropped.WithLabelValues(reason).Add(float64(n))
	o.drops.add(reason, n)
}

// writeFailed records a refused commit. Called with o.mu held.
func (o *Outbox) writeFailed(err error, results int) {
	o.met.writeErrors.Inc()
	o.drops.writeError(err, results)
}

// writeWorked records a successful commit. Called with o.mu held.
func (o *Outbox) writeWorked() { o.drops.writeOK() }
