// Package outbox is edged's persistent outbound queue. It stores the
// messages of publish.Sink (encoded once when accepted, so boot, per-camera
// seq and ts are fixed then) without interpreting them; they are committed
// to a bbolt file in groups (one commit, and so one pair of fsyncs, for
// every result that arrived while the previous commit ran), and delivered
// in order by one goroutine that deletes each item once the broker has
// acknowledged it. The queue is bounded in bytes and age; a policy decides
// what goes when it is full; every drop is counted and logged at a bounded
// rate. When the disk refuses a commit (full, read-only, failing), results
// are kept in a bounded memory lane and delivered from there, in order with
// the rest, so a connected daemon keeps publishing. See docs/delivery.md.
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/edged-io/edged/internal/publish"
)

// Policies, the values of Options.Policy.
const (
	DropOldest       = "drop_oldest"        // make room by deleting the oldest queued results
	DropNewest       = "drop_newest"        // refuse the new result while the queue is full
	KeepStateChanges = "keep_state_changes" // delete the oldest results that repeat their predecessor's top label first
)

// Drop reasons, the "reason" label of edged_queue_dropped_total.
const (
	ReasonFull    = "full"    // the queue was at max_bytes; the policy chose the victim
	ReasonAge     = "age"     // older than max_age
	ReasonDisk    = "disk"    // the disk refused the commit and the memory lane was full too
	ReasonCorrupt = "corrupt" // an unreadable record found when opening the file
	ReasonTooBig  = "too_big" // a single result larger than max_bytes
)

// Sender delivers one payload and returns once the broker acknowledged it
// (PUBACK at QoS 1). *mqtt.Publisher (internal/publish/mqtt) is the
// production Sender.
type Sender interface {
	Send(ctx context.Context, topic string, payload []byte) error
	Connected() bool
}

// Options configure an outbox.
type Options struct {
	Path     string        // the bbolt file; its folder is created
	MaxBytes int64         // bound on the queued records' bytes (payload, topic and a small header)
	MaxAge   time.Duration // queued results older than this are dropped; 0: no age bound
	Policy   string        // DropOldest (default), DropNewest or KeepStateChanges
	// MemoryBytes bounds the memory lane used while the disk refuses
	// commits. Zero means min(MaxBytes, 8 MiB).
	MemoryBytes int64
	Log         *slog.Logger
	Metrics     *Metrics // nil: metrics nobody reads
	// LogEvery is the least time between two log lines about drops or
	// write errors. Zero means 10 seconds.
	LogEvery time.Duration
	// SendTimeout bounds one delivery attempt. Zero means 10 seconds.
	SendTimeout time.Duration
}

var bucketName = []byte("results")

// item is one queued result. Items are ordered by key. payload is set
// while the payload is held in memory: during the item's commit (so that
// delivery need not wait for it) and in the memory lane (mem: the disk
// refused the commit).
type item struct {
	key      uint64
	size     int64
	accepted int64 // unix ns
	change   bool  // the top label differs from the camera's previous result
	mem      bool  // in the memory lane: not on disk
	topic    string
	payload  []byte
}

// request is one result waiting for the writer's next commit.
type request struct {
	it   item
	data []byte // the record as stored
	done chan struct{}
}

// Outbox is a persistent outbound queue. Write (a publish.Output) accepts
// messages; Run delivers them; Close closes the file.
type Outbox struct {
	opts Options
	db   *bolt.DB
	log  *slog.Logger
	met  *Metrics

	reqs    chan *request
	acked   chan uint64 // keys delivered, to delete
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	closeMu  sync.RWMutex
	isClosed bool

	mu       sync.Mutex // the index
	items    []item     // pending, by key
	bytes    int64      // durable bytes
	memBytes int64      // memory-lane bytes
	sending  uint64     // key being delivered; 0: none
	next     uint64     // the next key to assign (writer only)

	drops dropLog
}

// Open opens (or creates) the queue file and starts its writer. Results
// left by an earlier run are queued for delivery with their original
// payloads.
func Open(opts Options) (*Outbox, error) {
	if opts.Path == "" {
		return nil, errors.New("queue.path is empty")
	}
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("queue.max_bytes %d: must be positive", opts.MaxBytes)
	}
	switch opts.Policy {
	case "":
		opts.Policy = DropOldest
	case DropOldest, DropNewest, KeepStateChanges:
	default:
		return nil, fmt.Errorf("queue.policy %q: want %s, %s or %s", opts.Policy, DropOldest, DropNewest, KeepStateChanges)
	}
	if opts.MemoryBytes == 0 {
		opts.MemoryBytes = min(opts.MaxBytes, 8<<20)
	}
	if opts.LogEvery == 0 {
		opts.LogEvery = 10 * time.Second
	}
	if opts.SendTimeout == 0 {
		opts.SendTimeout = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("queue.path %s: %w", opts.Path, err)
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second,
		// The freelist is rebuilt at open instead of written at every
		// commit: fewer pages per commit.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("queue.path %s: locked by another process (another edged with the same queue?)", opts.Path)
		}
		return nil, fmt.Errorf("queue.path %s: %w", opts.Path, err)
	}
	o := &Outbox{opts: opts, db: db, log: opts.Log.With("queue", opts.Path), met: opts.Metrics,
		reqs: make(chan *request, 256), acked: make(chan uint64, 1024), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	o.drops = dropLog{log: o.log, every: opts.LogEvery, counts: map[string]int{}}
	if err := o.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("queue.path %s: %w", opts.Path, err)
	}
	o.met.bind(o)
	if n := len(o.items); n > 0 {
		o.log.Info("queue holds results from an earlier run; delivering them first", "results", n, "bytes", o.bytes)
	}
	go o.writer()
	return o, nil
}

// load reads the index of what the file holds, deleting unreadable records.
func (o *Outbox) load() error {
	return o.db.Update(func(tx *bolt.Tx) error {
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

// Record layout: version (1), flags (1), accepted unix ns (8), topic length
// (2), topic, payload.
const (
	recordVersion = 1
	headerLen     = 12
	flagChange    = 1
)

func encode(it *item, payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(it.topic)+len(payload))
	b[0] = recordVersion
	if it.change {
		b[1] = flagChange
	}
	binary.BigEndian.PutUint64(b[2:], uint64(it.accepted))
	binary.BigEndian.PutUint16(b[10:], uint16(len(it.topic)))
	b = append(b, it.topic...)
	return append(b, payload...)
}

// decode reads a record; the payload aliases v.
func decode(k, v []byte) (item, []byte, error) {
	if len(k) != 8 || len(v) < headerLen || v[0] != recordVersion {
		return item{}, nil, errors.New("bad record")
	}
	n := int(binary.BigEndian.Uint16(v[10:]))
	if len(v) < headerLen+n {
		return item{}, nil, errors.New("short record")
	}
	it := item{key: binary.BigEndian.Uint64(k), size: int64(len(v) + len(k)),
		accepted: int64(binary.BigEndian.Uint64(v[2:])), change: v[1]&flagChange != 0,
		topic: string(v[headerLen : headerLen+n])}
	return it, v[headerLen+n:], nil
}

func keyBytes(k uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k)
	return b[:]
}

// Write accepts m: it is committed with whatever else arrived meanwhile
// and queued for delivery. It returns once the commit is done (or, when
// the disk refused it, once the message is in the memory lane); it keeps
// nothing of m.
func (o *Outbox) Write(_ context.Context, m publish.Message) error {
	o.closeMu.RLock()
	defer o.closeMu.RUnlock()
	if o.isClosed {
		return errors.New("queue: closed")
	}
	it := item{accepted: time.Now().UnixNano(), change: m.Change, topic: m.Topic}
	data := encode(&it, m.Payload)
	it.size = int64(len(data) + 8)
	req := &request{it: it, data: data, done: make(chan struct{})}
	o.reqs <- req
	<-req.done
	return nil
}

// Ready reports whether the queue accepts results.
func (o *Outbox) Ready() bool {
	o.closeMu.RLock()
	defer o.closeMu.RUnlock()
	return !o.isClosed
}

// Stats is a snapshot of the queue.
type Stats struct {
	Depth       int   // results waiting, on disk and in memory
	Bytes       int64 // bytes of the results on disk
	MemoryDepth int   // results waiting in the memory lane (the disk refused them)
	Oldest      time.Duration
}

// Stats returns the queue's current depth, bytes and oldest age.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{Depth: len(o.items), Bytes: o.bytes}
	for i := range o.items {
		if o.items[i].mem {
			s.MemoryDepth++
		}
	}
	if len(o.items) > 0 {
		s.Oldest = time.Since(time.Unix(0, o.items[0].accepted))
	}
	return s
}

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
	err := o.db.Update(func(tx *bolt.Tx) error {
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
			err := o.db.View(func(tx *bolt.Tx) error {
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
		err := s.Send(sctx, it.topic, payload)
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

// Close stops accepting, commits the last deletes and closes the file.
// Results still queued stay in the file for the next run; those in the
// memory lane are lost (and logged). Run must have returned. It is safe to
// call twice.
func (o *Outbox) Close() error {
	o.closeMu.Lock()
	if o.isClosed {
		o.closeMu.Unlock()
		return nil
	}
	o.isClosed = true
	o.closeMu.Unlock()
	close(o.stop)
	<-o.stopped
	s := o.Stats()
	if s.MemoryDepth > 0 {
		o.log.Error("queue: results the disk refused are lost at shutdown", "results", s.MemoryDepth)
		o.met.dropped.WithLabelValues(ReasonDisk).Add(float64(s.MemoryDepth))
	}
	if s.Depth > s.MemoryDepth {
		o.log.Info("queue: undelivered results stay queued for the next run", "results", s.Depth-s.MemoryDepth, "bytes", s.Bytes)
	}
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("queue.path %s: close: %w", o.opts.Path, err)
	}
	return nil
}

// dropLog logs drops and write errors at a bounded rate: the first at
// once, then a summary at most once per every.
type dropLog struct {
	log       *slog.Logger
	every     time.Duration
	counts    map[string]int
	last      time.Time
	errCount  int
	errLast   time.Time
	lastErr   error
	errResult int
	failing   bool
	okLast    time.Time
}

func (d *dropLog) add(reason string, n int) { d.counts[reason] += n }

func (d *dropLog) flush(force bool) {
	if len(d.counts) == 0 || (!force && time.Since(d.last) < d.every) {
		return
	}
	args := []any{}
	total := 0
	for r, n := range d.counts {
		args = append(args, r, n)
		total += n
	}
	d.log.Warn("queue dropped results", append([]any{"dropped", total, "per_reason", slog.GroupValue(toAttrs(args)...)}, "since", d.since())...)
	clear(d.counts)
	d.last = time.Now()
}

func (d *dropLog) since() string {
	if d.last.IsZero() {
		return "start"
	}
	return d.last.UTC().Format(time.RFC3339)
}

func toAttrs(kv []any) []slog.Attr {
	out := make([]slog.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, slog.Any(kv[i].(string), kv[i+1]))
	}
	return out
}

func (d *dropLog) writeError(err error, results int) {
	d.errCount++
	d.errResult += results
	d.lastErr = err
	if time.Since(d.errLast) >= d.every { // a disk that flaps logs no more often
		d.log.Error("queue: the disk refused a commit; results are kept in memory (not durable) until it works again",
			"err", err, "failed_commits", d.errCount, "results", d.errResult)
		d.errLast = time.Now()
		d.errCount, d.errResult = 0, 0
	}
	d.failing = true
}

func (d *dropLog) writeOK() {
	if d.failing && time.Since(d.okLast) >= d.every {
		d.log.Info("queue: commits work again")
		d.okLast = time.Now()
	}
	d.failing = false
}
