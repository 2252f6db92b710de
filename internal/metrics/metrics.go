// Package metrics holds edged's Prometheus metrics: per-camera frame counts
// and per-stage latency histograms, model and engine facts, and build
// information, on a registry of their own that the HTTP endpoint serves.
// Components with metrics of their own (the outbound queue, GPIO) register
// them on Registry().
package metrics

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edged-io/edged/internal/result"
)

// Namespace prefixes every edged metric name.
const Namespace = "edged"

// Stage names, as the "stage" label of the latency histogram.
const (
	StageCapture    = "capture"    // reading and decoding a frame
	StagePreprocess = "preprocess" // crop, resize and conversion into the input tensor
	StageInfer      = "infer"      // invoke and post-processing
	StagePublish    = "publish"    // handing the result to the sinks (the queue, when there is one)
	StageTotal      = "total"      // from capture to the result handed to the sinks
)

// LatencyBuckets are the histogram bounds, in seconds: fine below 10 ms,
// where the stages of a small model live, up to 10 s for a stalled sink.
var LatencyBuckets = []float64{
	0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
	0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10,
}

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version string
}

// CameraStates returns every camera's status by name; the daemon provides it.
type CameraStates func() map[string]result.Status

// Metrics is the set of edged's own metrics and their registry.
type Metrics struct {
	reg *prometheus.Registry

	inferred      *prometheus.CounterVec
	published     *prometheus.CounterVec
	publishErrors *prometheus.CounterVec
	inferErrors   *prometheus.CounterVec
	gated         *prometheus.CounterVec
	stage         *prometheus.HistogramVec
	modelLoad     *prometheus.GaugeVec
	modelInfo     *prometheus.GaugeVec
	engineInfo    *prometheus.GaugeVec
	reloads       *prometheus.CounterVec
	regionRuns    *prometheus.CounterVec
	regionIdle    *prometheus.CounterVec
	stateChanges  *prometheus.CounterVec
}

// New creates the metrics on a new registry, with the Go runtime and
// process collectors and edged_build_info.
func New(info BuildInfo) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, []string{"camera"})
	}
	m.inferred = counter("frames_inferred_total", "Frames that went through the model.")
	m.published = counter("results_published_total", "Results handed to the sinks after the camera's publish filter.")
	m.publishErrors = counter("publish_errors_total", "Results a sink failed to take.")
	m.inferErrors = counter("frames_failed_total", "Frames skipped because preprocessing, invoke or post-processing failed.")
	m.gated = counter("frames_gated_total", "Frames not inferred because the camera's GPIO gate was closed.")
	m.stage = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "stage_duration_seconds",
		Help:    "Time each pipeline stage took per frame (capture, preprocess, infer, publish, total).",
		Buckets: LatencyBuckets,
	}, []string{"camera", "stage"})
	m.modelLoad = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "model_load_seconds", Help: "How long the model's last load and check took.",
	}, []string{"model"})
	m.modelInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "model_info", Help: "The loaded model (value 1): its file and sha256 prefix.",
	}, []string{"model", "path", "sha256"})
	m.engineInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "engine_info", Help: "The inference engine in use (value 1) and its library.",
	}, []string{"engine", "library"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "reloads_total", Help: "Reloads (SIGHUP) by result: applied or rejected.",
	}, []string{"result"})
	regionCounter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, []string{"camera", "region"})
	}
	m.regionRuns = regionCounter("region_inferences_total", "Crops of a region that went through its model.")
	m.regionIdle = regionCounter("region_idle_total", "Frames a region's trigger let pass without inference (no motion, interval not due).")
	m.stateChanges = regionCounter("region_state_changes_total", "Confirmed changes of a region's state.")
	m.reloads.WithLabelValues("applied")
	m.reloads.WithLabelValues("rejected")
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "edged's version and the Go version it was built with (value 1).",
	}, []string{"version", "goversion"})
	build.WithLabelValues(info.Version, runtime.Version()).Set(1)
	reg.MustRegister(m.inferred, m.published, m.publishErrors, m.inferErrors, m.gated, m.stage,
		m.modelLoad, m.modelInfo, m.engineInfo, m.reloads, m.regionRuns, m.regionIdle, m.stateChanges, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where components register metrics of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WatchCameras exports the capture counters and states that states
// returns, read at each scrape, so capture itself never touches a metric.
func (m *Metrics) WatchCameras(states CameraStates) {
	m.reg.MustRegister(&cameraCollector{states: states})
}

// Engine records the inference engine in use.
func (m *Metrics) Engine(name, library string) {
	m.engineInfo.Reset()
	m.engineInfo.WithLabelValues(name, library).Set(1)
}

// ModelLoaded records a model's load (or reload): its file, hash and the
// time loading and checking it took.
func (m *Metrics) ModelLoaded(model, path, sha256 string, took time.Duration) {
	m.modelLoad.WithLabelValues(model).Set(took.Seconds())
	m.modelInfo.DeletePartialMatch(prometheus.Labels{"model": model})
	m.modelInfo.WithLabelValues(model, path, sha256).Set(1)
}

// Reloaded counts a reload, applied or rejected.
func (m *Metrics) Reloaded(applied bool) {
	result := "rejected"
	if applied {
		result = "applied"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// Camera returns the metrics of one camera, resolved once so that the
// per-frame calls allocate nothing.
func (m *Metrics) Camera(name string) *Camera {
	c := &Camera{
		Inferred:      m.inferred.WithLabelValues(name),
		Published:     m.published.WithLabelValues(name),
		PublishErrors: m.publishErrors.WithLabelValues(name),
		Failed:        m.inferErrors.WithLabelValues(name),
		Gated:         m.gated.WithLabelValues(name),
	}
	c.Capture = m.stage.WithLabelValues(name, StageCapture)
	c.Preprocess = m.stage.WithLabelValues(name, StagePreprocess)
	c.Infer = m.stage.WithLabelValues(name, StageInfer)
	c.Publish = m.stage.WithLabelValues(name, StagePublish)
	c.Total = m.stage.WithLabelValues(name, StageTotal)
	return c
}

// Region returns the counters of one camera's region.
func (m *Metrics) Region(camera, region string) *Region {
	return &Region{
		Inferred: m.regionRuns.WithLabelValues(camera, region),
		Idle:     m.regionIdle.WithLabelValues(camera, region),
		Changes:  m.stateChanges.WithLabelValues(camera, region),
	}
}

// Region holds one region's counters.
type Region struct {
	Inferred, Idle, Changes prometheus.Counter
}

// Camera holds one camera's counters and stage histograms.
type Camera struct {
	Inferred, Published, PublishErrors, Failed, Gated prometheus.Counter

	Capture, Preprocess, Infer, Publish, Total prometheus.Observer
}

// Observe records one stage's duration.
func Observe(o prometheus.Observer, d time.Duration) {
	o.Observe(d.Seconds())
}

// cameraCollector reads the capture counters at scrape time.
type cameraCollector struct {
	states CameraStates
}

var (
	descCaptured = prometheus.NewDesc(Namespace+"_frames_captured_total",
		"Frames read from the camera.", []string{"camera"}, nil)
	descDropped = prometheus.NewDesc(Namespace+"_frames_dropped_total",
		"Frames replaced by a newer one before inference (live sources only).", []string{"camera"}, nil)
	descSkipped = prometheus.NewDesc(Namespace+"_frames_rate_skipped_total",
		"Frames skipped by the camera's frame-rate cap.", []string{"camera"}, nil)
	descReconnects = prometheus.NewDesc(Namespace+"_camera_reconnects_total",
		"Times the camera's source was reopened after a failure.", []string{"camera"}, nil)
	descDecodeErrors = prometheus.NewDesc(Namespace+"_camera_decode_errors_total",
		"Frames or images that could not be read or decoded.", []string{"camera"}, nil)
	descState = prometheus.NewDesc(Namespace+"_camera_state",
		"The camera's capture state: 1 for the current state, 0 for the others.", []string{"camera", "state"}, nil)
)

func (c *cameraCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCaptured, descDropped, descSkipped, descReconnects, descDecodeErrors, descState} {
		ch <- d
	}
}

func (c *cameraCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.states() {
		ch <- prometheus.MustNewConstMetric(descCaptured, prometheus.CounterValue, float64(s.Captured), name)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.Dropped), name)
		ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(s.Skipped), name)
		ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(s.Reconnects), name)
		ch <- prometheus.MustNewConstMetric(descDecodeErrors, prometheus.CounterValue, float64(s.DecodeErrors), name)
		for _, st := range result.States {
			v := 0.0
			if st == s.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, name, string(st))
		}
	}
}

// DeployStates reads the fleet deployment's figures at scrape time: the
// version of the last deployment applied, the state of the latest one,
// and each deployed slot's model sha256.
type DeployStates func() (deployed uint64, state string, running map[string]string)

var (
	descDeployed = prometheus.NewDesc(Namespace+"_deployed_version",
		"The version of the last fleet deployment applied (0: none).", nil, nil)
	descDeployState = prometheus.NewDesc(Namespace+"_deploy_state",
		"The latest fleet deployment's state on this box (value 1).", []string{"state"}, nil)
	descDeployedModel = prometheus.NewDesc(Namespace+"_deployed_model_info",
		"The model a fleet deployment put in a slot (value 1).", []string{"slot", "sha256"}, nil)
)

type deployCollector struct{ read DeployStates }

func (c deployCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDeployed
	ch <- descDeployState
	ch <- descDeployedModel
}

func (c deployCollector) Collect(ch chan<- prometheus.Metric) {
	v, state, running := c.read()
	ch <- prometheus.MustNewConstMetric(descDeployed, prometheus.GaugeValue, float64(v))
	ch <- prometheus.MustNewConstMetric(descDeployState, prometheus.GaugeValue, 1, state)
	for slot, sum := range running {
		ch <- prometheus.MustNewConstMetric(descDeployedModel, prometheus.GaugeValue, 1, slot, sum)
	}
}

// WatchDeploy exports the fleet deployment's figures that read returns.
func (m *Metrics) WatchDeploy(read DeployStates) {
	m.reg.MustRegister(deployCollector{read: read})
}
