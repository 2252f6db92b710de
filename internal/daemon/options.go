package daemon

// The translation of the configuration into each part's options lives
// here, in one place.

import (
	"fmt"
	"log/slog"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/decide"
	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/engines"
	"github.com/edged-io/edged/internal/outbox"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/samples"
)

// engineOptions picks the engine as the configuration asks. XNNPACK stays
// off when any model turns acceleration off.
func engineOptions(cfg *config.Config, opts Options, log *slog.Logger) engines.Options {
	noXNN := false
	for _, m := range cfg.Models {
		noXNN = noXNN || m.Accelerate == "off"
	}
	return engines.Options{Choice: cfg.Engine, TFLiteLib: opts.TFLiteLib, LiteRTLib: opts.LiteRTLib, NoXNNPACK: noXNN, Log: log}
}

// cameraSpec is what the pipeline runs for camera cc (cameras[i]) on the
// loaded models.
func cameraSpec(i int, cc config.Camera, models map[string]*pipeline.Model, gate pipeline.Gate) pipeline.CameraSpec {
	spec := pipeline.CameraSpec{
		Camera: camera.Config{
			Name: cc.Name, Source: cc.Source, FPS: cc.FPS, Loop: cc.Loop, MaxPixels: cc.MaxPixels,
			Decode: camera.Decode(cc.Decode), Transport: cc.RTSPTransport, Decoder: cc.FFmpegDecoder, Preset: cc.Preset,
			Spec:    preprocess.Spec{ROI: preprocess.Rect{X: cc.ROI.X, Y: cc.ROI.Y, W: cc.ROI.W, H: cc.ROI.H}, Mode: cc.Resize},
			Backoff: camera.Backoff{Initial: cc.Reconnect.Initial, Max: cc.Reconnect.Max},
		},
		Model:   models[cc.Model],
		Filter:  filterConfig(cc.Publish),
		Gate:    gate,
		Samples: samplesSpec(cc.Samples),
	}
	for j, r := range cc.Regions {
		spec.Regions = append(spec.Regions, pipeline.RegionSpec{
			Name: r.Name, Box: r.ROI, Field: fmt.Sprintf("cameras[%d].regions[%d].roi", i, j), Resize: r.Resize,
			Model: models[r.Model], Threshold: float32(r.Threshold), Confirm: r.Confirm, MinScore: float32(r.MinScore),
			Trigger: pipeline.Trigger{Mode: r.Trigger.Mode, Interval: r.Trigger.Interval, Threshold: r.Trigger.Threshold,
				MinArea: r.Trigger.MinArea, Heartbeat: r.Trigger.Heartbeat},
			Samples: samplesSpec(r.Samples),
		})
		if len(r.Samples.When) == 0 {
			spec.Regions[j].Samples = spec.Samples // the camera's
		}
	}
	return spec
}

// samplesSpec is what the pipeline keeps of a camera's or region's crops.
func samplesSpec(s config.Samples) pipeline.Samples {
	return pipeline.Samples{When: s.When, Below: float32(s.Below), Interval: s.Interval, Frame: s.Frame,
		Limits: samples.Limits{MaxCount: s.MaxCount, MaxBytes: int64(s.MaxBytes), MaxAge: s.MaxAge}}
}

// keepsSamples reports whether any camera or region keeps samples.
func keepsSamples(cfg *config.Config) bool {
	for _, c := range cfg.Cameras {
		if len(c.Samples.When) > 0 {
			return true
		}
		for _, r := range c.Regions {
			if len(r.Samples.When) > 0 {
				return true
			}
		}
	}
	return false
}

// regionModels maps camera cc's regions to their loaded models.
func regionModels(cc config.Camera, models map[string]*pipeline.Model) map[string]*pipeline.Model {
	if len(cc.Regions) == 0 {
		return nil
	}
	out := map[string]*pipeline.Model{}
	for _, r := range cc.Regions {
		out[r.Name] = models[r.Model]
	}
	return out
}

// usedBy names the first configuration field that uses model name
// (cameras[0].regions[1].model), so that a model that cannot serve it is
// reported where the user wrote it; "" when only the default uses it.
func usedBy(cfg *config.Config, name string) string {
	for i, c := range cfg.Cameras {
		for j, r := range c.Regions {
			if r.Model == name && r.Model != c.Model {
				return fmt.Sprintf("cameras[%d].regions[%d].model", i, j)
			}
		}
		if c.Model == name && len(c.Regions) == 0 {
			return fmt.Sprintf("cameras[%d].model", i)
		}
	}
	return ""
}

// filterConfig is a camera's publish filter.
func filterConfig(p config.Publish) decide.Config {
	return decide.Config{Mode: p.Mode, Heartbeat: p.Heartbeat, Smoothing: p.Smoothing}
}

// queueOptions opens the queue at path as the configuration bounds it.
func queueOptions(c config.Queue, path string) outbox.Options {
	return outbox.Options{Path: path, MaxBytes: int64(c.MaxBytes), MaxAge: c.MaxAge, Policy: c.Policy}
}

// modelSpec turns a model's configuration into what the pipeline loads.
func modelSpec(mc config.Model) (pipeline.ModelSpec, error) {
	path := mc.Path
	if path == "" {
		p, err := DefaultModelPath()
		if err != nil {
			return pipeline.ModelSpec{}, fmt.Errorf("model %q: %w", mc.Name, err)
		}
		path = p
	}
	var norm preprocess.Norm
	if len(mc.Mean) > 0 {
		for ch := 0; ch < 3; ch++ {
			norm.Mean[ch] = float32(mc.Mean[min(ch, len(mc.Mean)-1)])
			norm.Std[ch] = float32(mc.Std[min(ch, len(mc.Std)-1)])
		}
	}
	pool, err := infer.PoolSize(mc.Pool, mc.Threads)
	if err != nil {
		return pipeline.ModelSpec{}, fmt.Errorf("model %q: pool: %w", mc.Name, err)
	}
	return pipeline.ModelSpec{
		Name: mc.Name, Path: path, LabelsPath: mc.Labels, Pool: pool,
		Options: infer.Options{Threads: mc.Threads, Accelerate: mc.Accelerate},
		Post:    infer.PostConfig{TopK: mc.TopK, Threshold: float32(mc.Threshold), Softmax: mc.Softmax},
		Norm:    norm, BGR: mc.Color == "bgr", Output: mc.Output,
	}, nil
}
