// Package engines opens the inference engine a configuration chooses:
// TFLite (internal/infer/tfliteengine) or LiteRT
// (internal/infer/litertengine).
//
// "auto" prefers LiteRT: BenchmarkInvoke in litertengine measured it faster
// on the default int8 model (figures in internal/infer/litertengine's
// README.md). It falls back to TFLite when LiteRT's library is absent, or
// when a model asks to run without XNNPACK (LiteRT's CPU accelerator always
// uses it). On arm64 "auto" means TFLite for now: LiteRT 2.2.0's arm64
// library crashed compiling the default model under qemu-user (the package
// test), and no board has shown it works.
package engines

import (
	"fmt"
	"log/slog"
	"runtime"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/infer/litertengine"
	"github.com/edged-io/edged/internal/infer/tfliteengine"
)

// Engine is an opened engine that can say where its runtime came from.
type Engine interface {
	infer.Engine
	// LibraryPath returns where the runtime library was loaded from.
	LibraryPath() string
}

// Options choose and locate the engine.
type Options struct {
	Choice    string // "auto" (or ""), "tflite" or "litert"
	TFLiteLib string // explicit library paths; empty searches the usual places
	LiteRTLib string
	NoXNNPACK bool // some model asks for accelerate: off (auto then picks TFLite)
	Log       *slog.Logger
	Arch      string // the machine's GOARCH; empty: this one (tests set it)
}

// liteRTVerified lists where "auto" may pick LiteRT.
func liteRTVerified(arch string) bool { return arch == "amd64" }

// Open opens the chosen engine. An explicit choice whose library is missing
// is an error saying how to get it; "auto" falls back to TFLite and logs why.
func Open(o Options) (Engine, error) {
	switch o.Choice {
	case "tflite":
		return tfliteengine.Open(o.TFLiteLib)
	case "litert":
		return litertengine.Open(o.LiteRTLib)
	case "", "auto":
	default:
		return nil, fmt.Errorf("engine %q: want auto, tflite or litert", o.Choice)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	if o.NoXNNPACK {
		log.Info("engine auto: TFLite, because a model sets accelerate: off")
		return tfliteengine.Open(o.TFLiteLib)
	}
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	if !liteRTVerified(arch) {
		log.Info("engine auto: TFLite, because LiteRT is not verified on " + arch + " (engine: litert forces it)")
		return tfliteengine.Open(o.TFLiteLib)
	}
	e, err := litertengine.Open(o.LiteRTLib)
	if err == nil {
		return e, nil
	}
	log.Warn("engine auto: LiteRT library not found, using TFLite (make litert-lib fetches it)", "err", firstLine(err.Error()))
	return tfliteengine.Open(o.TFLiteLib)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
