package daemon

import (
	"errors"
	"fmt"

	"github.com/edged-io/edged/internal/camera"
	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/publish/mqtt"
)

// Check runs, on a loaded configuration, every check a run makes short of
// opening cameras, streams and the broker, with the code the run uses:
// each model file is read and checked with its labels, each video file or
// folder source exists, and the broker's password file or credential and
// TLS files can be read. It returns every failure, joined.
func Check(cfg *config.Config) error {
	var errs []error
	for _, mc := range cfg.Models {
		spec, err := modelSpec(mc)
		if err == nil {
			err = pipeline.CheckModel(spec)
		}
		errs = append(errs, err)
	}
	for i, cc := range cfg.Cameras {
		err := camera.CheckConfig(camera.Config{Source: cc.Source, Decode: camera.Decode(cc.Decode), Transport: cc.RTSPTransport,
			Decoder: cc.FFmpegDecoder, Preset: cc.Preset})
		if err != nil {
			errs = append(errs, fmt.Errorf("cameras[%d] (source %q): %w", i, cc.Source, err))
		}
	}
	if cfg.Broker.URL != "" {
		errs = append(errs, mqtt.Check(cfg.Broker))
	}
	return errors.Join(errs...)
}
