package outbox

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Delivery: one goroutine sends queued messages in order and deletes each
// once the broker acknowledged it.

// Run delivers queued results in order through s until ctx ends. Each
// result is deleted once s acknowledged it; a failed send is retried
// (the broker may then see it twice: at least once).
func (o *Outbox) Run(ctx context.Context, s Sender) error {
	backoff := 100 * time.Millisecond
	var buf []byte
	for ctx.Err() == nil {
		o.mu.Lock()
		if len(o.items) == 0 {
			o.mu.Unlock()
			select {
			case <-o.wake:
			case <-ctx.Done():
			}
			continue
		}
		it := o.items[0]
		o.sending = it.key
		o.mu.Unlock()
		if !s.Connected() {
			o.idle(ctx, 200*time.Millisecond)
			continue
		}
		payload := it.payload
		if payload == nil {
			var found bool
			err := safe(func() error {
				return o.db.View(func(tx *bolt.Tx) error {
					v := tx.Bucket(bucketName).Get(keyBytes(it.key))
					if v == nil {
						return nil
					}
					_, p, err := decode(keyBytes(it.key), v)
					if err != nil {
						return err
					}
					buf = append(buf[:0], p...)
					found = true
					return nil
				})
			})
			if err != nil || !found {
				o.mu.Lock()
				if i := o.find(it.key); i == 0 {
					o.removeAt(0)
				}
				o.sending = 0
				o.mu.Unlock()
				if err != nil {
					o.log.Error("queue: unreadable record skipped", "key", it.key, "err", err)
					o.met.dropped.WithLabelValues(ReasonCorrupt).Inc()
				}
				continue
			}
			payload = buf
		}
		sctx, cancel := context.WithTimeout(ctx, o.opts.SendTimeout)
		err := s.Send(sctx, it.topic, payload, it.retain)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				o.log.Debug("queue: delivery failed; retrying", "err", err)
				o.idle(ctx, backoff)
				backoff = min(backoff*2, 5*time.Second)
			}
			continue
		}
		backoff = 100 * time.Millisecond
		o.met.delivered.Inc()
		o.met.latency.Observe(time.Since(time.Unix(0, it.accepted)).Seconds())
		o.mu.Lock()
		if i := o.find(it.key); i >= 0 {
			o.removeAt(i)
		}
		o.sending = 0
		o.mu.Unlock()
		if !it.mem {
			select {
			case o.acked <- it.key:
			case <-o.stopped:
			}
		}
	}
	o.mu.Lock()
	o.sending = 0
	o.mu.Unlock()
	return nil
}

func (o *Outbox) idle(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Drain waits until the queue is empty or ctx ends; it reports whether the
// queue is empty.
func (o *Outbox) Drain(ctx context.Context) bool {
	for {
		o.mu.Lock()
		n := len(o.items)
		o.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
