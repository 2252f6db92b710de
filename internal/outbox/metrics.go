package outbox

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the queue's Prometheus metrics.
type Metrics struct {
	q            atomic.Pointer[Outbox]
	dropped      *prometheus.CounterVec
	corruptFiles prometheus.Counter
	writeErrors  prometheus.Counter
	delivered    prometheus.Counter
	latency      prometheus.Histogram
	commit       prometheus.Histogram
}

// NewMetrics creates the queue's metrics and registers them on reg (nil:
// not registered). The depth, bytes and oldest-age gauges read the queue
// that Open binds to them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "edged", Name: "queue_dropped_total",
			Help: "Results dropped from the outbound queue, by reason (full, age, disk, corrupt, too_big)."}, []string{"reason"}),
		corruptFiles: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "edged", Name: "queue_corrupt_files_total",
			Help: "Queue files found damaged at start, moved aside (queue.db.corrupt-<time>) for a fresh one."}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "edged", Name: "queue_write_errors_total",
			Help: "Queue commits the disk refused (full, read-only, failing)."}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "edged", Name: "queue_delivered_total",
			Help: "Results the broker acknowledged and the queue deleted."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "edged", Name: "queue_delivery_latency_seconds",
			Help:    "From a result's acceptance into the queue to the broker's acknowledgement.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600}}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "edged", Name: "queue_commit_seconds",
			Help:    "Time one group commit (write and fsync) of the queue file took.",
			Buckets: []float64{0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1}}),
	}
	for _, r := range []string{ReasonFull, ReasonAge, ReasonDisk, ReasonCorrupt, ReasonTooBig} {
		m.dropped.WithLabelValues(r)
	}
	if reg != nil {
		stat := func(f func(Stats) float64) func() float64 {
			return func() float64 {
				if q := m.q.Load(); q != nil {
					return f(q.Stats())
				}
				return 0
			}
		}
		reg.MustRegister(m.dropped, m.corruptFiles, m.writeErrors, m.delivered, m.latency, m.commit,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "edged", Name: "queue_depth",
				Help: "Results waiting for delivery (on disk and in the memory lane)."},
				stat(func(s Stats) float64 { return float64(s.Depth) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "edged", Name: "queue_memory_depth",
				Help: "Results waiting in memory only because the disk refused them."},
				stat(func(s Stats) float64 { return float64(s.MemoryDepth) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "edged", Name: "queue_bytes",
				Help: "Bytes of the results waiting on disk (records; the file is larger by bbolt's pages)."},
				stat(func(s Stats) float64 { return float64(s.Bytes) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "edged", Name: "queue_oldest_age_seconds",
				Help: "Age of the oldest waiting result; 0 when the queue is empty."},
				stat(func(s Stats) float64 { return s.Oldest.Seconds() })))
	}
	return m
}

func (m *Metrics) bind(o *Outbox) { m.q.Store(o) }
