package daemon

// The live view's region editor: regions drawn in the page are kept in the
// state directory (internal/regionedit) and applied through the reload
// path.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/regionedit"
	"github.com/edged-io/edged/internal/statusapi"
)

// withEdits is cfg with the editor's regions laid over it. At start a
// region that no longer fits (its camera renamed, a configuration that
// now sets roi) is reported and left out: edged starts on its
// configuration file rather than not at all.
func (d *Daemon) withEdits(cfg *config.Config) *config.Config {
	edits, err := d.edits.Edits()
	if err == nil {
		var out *config.Config
		if out, err = regionedit.Apply(cfg, edits); err == nil {
			if len(edits) > 0 {
				d.log.Info("regions applied from the live view's editor", "file", d.edits.Path(), "regions", len(edits))
			}
			return out
		}
	}
	d.log.Warn("regions from the live view's editor not applied: running on the configuration file's regions", "file", d.edits.Path(), "err", err)
	return cfg
}

// editedLoad lays the editor's regions over what load reads. At a reload
// a region that does not fit rejects the reload, naming the file.
func (d *Daemon) editedLoad(load func() (*config.Config, error)) func() (*config.Config, error) {
	return func() (*config.Config, error) {
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		edits, err := d.edits.Edits()
		if err != nil {
			return nil, err
		}
		out, err := regionedit.Apply(cfg, edits)
		if err != nil {
			return nil, fmt.Errorf("%w (remove the region in the live view, or delete %s)", err, d.edits.Path())
		}
		return out, nil
	}
}

// regionEditor is the HTTP endpoint's RegionEditor: an applied region is
// written to the editor's file, then the configuration is reloaded with
// it; a reload that rejects it puts the file back as it was.
type regionEditor struct {
	d  *Daemon
	mu sync.Mutex // one edit and its reload at a time
}

func (e *regionEditor) ApplyRegion(camera, name string, roi [4]float64) (statusapi.RegionChange, error) {
	return e.edit(camera, name, func(es []regionedit.Edit) ([]regionedit.Edit, error) {
		return regionedit.Set(es, regionedit.Edit{Camera: camera, Name: name, ROI: roi})
	}, "reload: applying region "+name+" of camera "+camera+" from the live view")
}

func (e *regionEditor) RemoveRegion(camera, name string) (statusapi.RegionChange, error) {
	return e.edit(camera, name, func(es []regionedit.Edit) ([]regionedit.Edit, error) {
		return regionedit.Remove(es, camera, name)
	}, "reload: removing region "+name+" of camera "+camera+" applied from the live view")
}

func (e *regionEditor) edit(camera, name string, f func([]regionedit.Edit) ([]regionedit.Edit, error), why string) (statusapi.RegionChange, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.ContainsFunc(e.d.cfg.Cameras, func(c config.Camera) bool { return c.Name == camera }) {
		return statusapi.RegionChange{}, statusapi.ErrNoCamera
	}
	before, err := e.d.edits.Update(f)
	if err != nil {
		if errors.Is(err, regionedit.ErrNotEdited) {
			return statusapi.RegionChange{}, fmt.Errorf("%w: %q", statusapi.ErrNoRegion, name)
		}
		return statusapi.RegionChange{}, fmt.Errorf("%w: %v", statusapi.ErrRejected, err)
	}
	changed, restart, err := e.d.rl.reloadFor(why)
	if err != nil {
		if rerr := e.d.edits.Restore(before); rerr != nil {
			e.d.log.Error("region editor: the refused edit could not be undone in its file", "file", e.d.edits.Path(), "err", rerr)
		}
		return statusapi.RegionChange{}, fmt.Errorf("%w: %v", statusapi.ErrRejected, err)
	}
	return statusapi.RegionChange{Applied: true, Changed: changed, Restart: restart, File: e.d.edits.Path()}, nil
}

// latest is the live view's labels of camera's latest results.
func (d *Daemon) latest(camera string) ([]statusapi.ViewLabels, error) {
	views, err := d.p.Latest(camera)
	if errors.Is(err, pipeline.ErrNoCamera) {
		return nil, statusapi.ErrNoCamera
	}
	out := make([]statusapi.ViewLabels, 0, len(views))
	for _, v := range views {
		vl := statusapi.ViewLabels{Region: v.Region, Frame: v.Frame, Captured: v.Captured, State: v.State, Labels: []statusapi.ViewLabel{}}
		for _, l := range v.Labels {
			vl.Labels = append(vl.Labels, statusapi.ViewLabel{Label: l.Label, Score: score4(l.Score)})
		}
		out = append(out, vl)
	}
	return out, err
}

// score4 is a score as the MQTT payload writes it: four decimals.
func score4(v float32) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(min(max(v, 0), 1)), 'f', 4, 32), 64)
	return f
}
