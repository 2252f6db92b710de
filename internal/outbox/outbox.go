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
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
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

// Policies are the values of Options.Policy (queue.policy).
var Policies = []string{DropOldest, DropNewest, KeepStateChanges}

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
	Send(ctx context.Context, topic string, payload []byte, retain bool) error
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
	// Target names where the queued results go (the broker and device).
	// A new file records it; a file recorded for another target is
	// refused, so results are never delivered somewhere else.
	Target  string
	Log     *slog.Logger
	Metrics *Metrics // nil: metrics nobody reads
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
	retain   bool  // published retained (a region's state)
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
	if opts.Policy == "" {
		opts.Policy = DropOldest
	}
	if !slices.Contains(Policies, opts.Policy) {
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
	o := &Outbox{opts: opts, log: opts.Log.With("queue", opts.Path), met: opts.Metrics,
		reqs: make(chan *request, 256), acked: make(chan uint64, 1024), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	o.drops = dropLog{log: o.log, every: opts.LogEvery, counts: map[string]int{}}
	err := o.openFile()
	if errors.Is(err, errDamaged) {
		// A queue that cannot be read must not stop edged at every start
		// (a restart loop under systemd): the file is kept aside for a
		// look, and edged starts with an empty queue.
		aside := fmt.Sprintf("%s.corrupt-%s", opts.Path, time.Now().UTC().Format("20060102T150405.000Z"))
		if rerr := os.Rename(opts.Path, aside); rerr != nil {
			return nil, fmt.Errorf("queue.path %s: %w, and it cannot be moved aside: %v", opts.Path, err, rerr)
		}
		o.met.corruptFiles.Inc()
		o.log.Error("queue file damaged: moved aside, starting with an empty queue", "moved_to", aside, "err", err)
		o.items, o.bytes, o.next = nil, 0, 0
		err = o.openFile()
	}
	if err != nil {
		return nil, err
	}
	o.met.bind(o)
	if n := len(o.items); n > 0 {
		o.log.Info("queue holds results from an earlier run; delivering them first", "results", n, "bytes", o.bytes)
	}
	go o.writer()
	return o, nil
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
	it := item{accepted: time.Now().UnixNano(), change: m.Change, retain: m.Retain, topic: m.Topic}
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

// errDamaged marks a queue file bbolt cannot read or that fails its
// consistency check.
var errDamaged = errors.New("queue file damaged")

// openFile opens the queue file, checks its pages and loads the index. A
// file bbolt refuses as invalid, or panics on, or whose pages fail
// bbolt's consistency check, is errDamaged.
func (o *Outbox) openFile() (err error) {
	path := o.opts.Path
	if err := precheck(path); err != nil {
		return err
	}
	var db *bolt.DB
	// bolt.Open may panic on a damaged file (rebuilding the freelist);
	// safe turns that into an error.
	if perr := safe(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout: 2 * time.Second,
			// The freelist is rebuilt at open instead of written at every
			// commit: fewer pages per commit.
			NoFreelistSync: true,
			FreelistType:   bolt.FreelistMapType,
		})
		return err
	}); perr != nil {
		switch {
		case errors.Is(perr, bolterrors.ErrTimeout):
			return fmt.Errorf("queue.path %s: locked by another process (another edged with the same queue?)", path)
		case errors.Is(perr, bolterrors.ErrInvalid), errors.Is(perr, bolterrors.ErrChecksum),
			errors.Is(perr, bolterrors.ErrVersionMismatch), errors.Is(perr, errPanic):
			return fmt.Errorf("queue.path %s: %w: %v", path, errDamaged, perr)
		}
		return fmt.Errorf("queue.path %s: %w", path, perr)
	}
	o.db = db
	if err := safe(o.load); err != nil {
		db.Close()
		o.db = nil
		if errors.Is(err, errPanic) {
			return fmt.Errorf("queue.path %s: %w: %v", path, errDamaged, err)
		}
		return fmt.Errorf("queue.path %s: %w", path, err)
	}
	return nil
}

// precheck reads an existing queue file read-only before it is opened for
// writing: opening for writing rebuilds bbolt's freelist by walking every
// page, and a damaged page there panics in a goroutine of bbolt's own,
// which no recover reaches. Here the walk runs in this goroutine, with
// faults on the mapped file turned into panics (a file cut short faults
// where its pages should be) and panics into errors: a file whose meta
// pages are bad, that is shorter than its meta says, or whose pages do not
// read is errDamaged.
func precheck(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return nil // absent or new: nothing to check
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var db *bolt.DB
	err = safe(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		return err
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("queue.path %s: locked by another process (another edged with the same queue?)", path)
	}
	if err != nil {
		return fmt.Errorf("queue.path %s: %w: %v", path, errDamaged, err)
	}
	defer db.Close()
	err = safe(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > fi.Size() {
				return fmt.Errorf("the file has %d bytes, its meta page says %d", fi.Size(), tx.Size())
			}
			return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
				return b.ForEach(func(_, _ []byte) error { return nil })
			})
		})
	})
	if err != nil {
		return fmt.Errorf("queue.path %s: %w: %v", path, errDamaged, err)
	}
	return nil
}

// errPanic marks a panic inside bbolt turned into an error by safe.
var errPanic = errors.New("panic in the queue's store")

// safe runs f, turning a panic (bbolt panics on some damaged pages) into
// an error wrapping errPanic, so a damaged file fails an operation rather
// than the daemon.
func safe(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return f()
}
