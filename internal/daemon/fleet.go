package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/fleet"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/statusapi"
)

// fleetPart is the daemon's side of fleet deployment (docs/fleet.md): it
// lays what was deployed over the configuration, and applies new
// deployments through the reload path with a self-test before the swap.
type fleetPart struct {
	d     *Daemon
	store *fleet.Store
	opts  fleet.AgentOptions
	agent *fleet.Agent // from startFleet on

	mu    sync.Mutex
	setup fleet.Setup // what runs now
}

// openFleet reads the fleet's state and lays its setup over the
// configuration before the models load, so a restart runs what was
// deployed. A deployed setup that no longer loads (a file gone, a slot
// the configuration dropped) is logged and left out: the box starts on
// its configuration.
func (d *Daemon) openFleet(context.Context) error {
	if !d.cfg.Fleet.Enabled {
		return nil
	}
	if d.opts.NoMQTT {
		return errors.New("fleet.enabled: fleet deployment comes over MQTT; it cannot run with --no-mqtt")
	}
	store, err := fleet.OpenStore(filepath.Join(StateDir(d.cfg.StateDir), "fleet"), d.cfg.Fleet.Keep)
	if err != nil {
		return err
	}
	st, err := store.Load()
	if err != nil {
		// Without its record of versions the box could be made to take an
		// old manifest again: deployment stays off until the file is
		// repaired or removed, and the cameras run.
		d.log.Error("fleet deployment off: its state cannot be read (repair or remove the file to turn it on again)", "err", err)
		return nil
	}
	f := &fleetPart{d: d, store: store}
	base := d.cfg
	setup := fleet.SetupOf(st)
	if len(setup.Slots) > 0 || setup.Config != "" {
		cfg, err := f.overlay(d.cfg, setup)
		if err != nil {
			d.log.Error("fleet: the deployed setup does not fit the configuration; starting on the configuration alone", "err", err)
			setup = fleet.Setup{}
		} else {
			d.cfg = cfg
			d.log.Info("fleet: running the deployed setup", "slots", len(setup.Slots), "config", setup.Config != "")
		}
	}
	// The fleet settings of what runs: a deployed configuration can
	// rotate the trusted keys or change the groups (at the next start).
	fc := d.cfg.Fleet
	keys, err := fleet.TrustedKeys(fc.TrustedKeys, fc.TrustedKeyCredentials)
	if err != nil && d.cfg != base {
		d.log.Error("fleet: the deployed configuration's trusted keys cannot be read; using the file's", "err", err)
		fc = base.Fleet
		keys, err = fleet.TrustedKeys(fc.TrustedKeys, fc.TrustedKeyCredentials)
	}
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	store.SetKeep(fc.Keep)
	client, err := fleet.HTTPClient(fc.CAFile, 10*time.Minute)
	if err != nil {
		return err
	}
	f.opts = fleet.AgentOptions{
		Device: d.device, Groups: fc.Groups, TopicPrefix: d.cfg.Broker.TopicPrefix, Keys: keys, Store: store,
		Log: d.log, MaxBytes: int64(fc.MaxModelBytes), HealthWindow: fc.HealthWindow,
		DownloadTimeout: fc.DownloadTimeout, HTTP: client,
	}
	f.opts.Applier = f
	f.setup = setup
	d.fleet = f
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	d.log.Info("fleet deployment on", "groups", strings.Join(fc.Groups, ","), "trusted_keys", strings.Join(ids, ","), "store", store.Dir())
	return nil
}

// startFleet starts the agent on the daemon's MQTT connection; it runs in
// Run.
func (d *Daemon) startFleet(context.Context) error {
	if d.fleet == nil {
		return nil
	}
	d.fleet.opts.Client = d.pub
	a, err := fleet.NewAgent(d.fleet.opts)
	if err != nil {
		return err
	}
	d.fleet.agent = a
	d.met.WatchDeploy(func() (uint64, string, map[string]string) {
		s := a.Status()
		return s.Deployed, s.State, s.Running
	})
	return nil
}

// overlay is base with setup s laid over it: the deployed configuration
// document (when there is one) in place of base, and each deployed
// slot's files in place of the configured ones.
func (f *fleetPart) overlay(base *config.Config, s fleet.Setup) (*config.Config, error) {
	cfg := base
	if s.Config != "" {
		data, err := os.ReadFile(s.Config)
		if err != nil {
			return nil, fmt.Errorf("deployed config: %w", err)
		}
		name := "deployed config " + strings.TrimSuffix(filepath.Base(s.Config), ".yaml")[:12]
		dir := "/"
		if f.d.opts.ConfigPath != "" {
			dir = filepath.Dir(f.d.opts.ConfigPath)
		}
		if cfg, err = config.ParseIn(data, name, dir); err != nil {
			return nil, err
		}
		if err := keepsFleet(base, cfg, name); err != nil {
			return nil, err
		}
	} else {
		c := *cfg
		c.Models = slices.Clone(cfg.Models)
		cfg = &c
	}
	for slot, files := range s.Slots {
		i := slices.IndexFunc(cfg.Models, func(m config.Model) bool { return m.Name == slot })
		if i < 0 {
			names := make([]string, len(cfg.Models))
			for j, m := range cfg.Models {
				names[j] = m.Name
			}
			return nil, fmt.Errorf("model slot %q: the configuration has no model of that name (models: %s)", slot, strings.Join(names, ", "))
		}
		cfg.Models[i].Path = files.Model
		if files.Labels != "" {
			cfg.Models[i].Labels = files.Labels
		}
	}
	return cfg, nil
}

// keepsFleet refuses a deployed configuration that would cut the box off
// the fleet or from its own state.
func keepsFleet(running, next *config.Config, name string) error {
	switch {
	case !next.Fleet.Enabled:
		return &config.Error{File: name, Field: "fleet.enabled", Msg: "a deployed configuration must keep fleet deployment on (the box could not be reached again)"}
	case next.StateDir != running.StateDir:
		return &config.Error{File: name, Field: "state_dir", Msg: "a deployed configuration cannot move the state folder (it holds the deployment)"}
	case next.Device != running.Device:
		return &config.Error{File: name, Field: "device", Msg: "a deployed configuration cannot rename the device"}
	}
	return nil
}

// load is the reloader's loader with the deployed setup laid over it.
func (f *fleetPart) load(base func() (*config.Config, error)) func() (*config.Config, error) {
	return func() (*config.Config, error) {
		f.mu.Lock()
		s := f.setup
		f.mu.Unlock()
		cfg := f.d.cfg
		if s.Config == "" {
			var err error
			if cfg, err = base(); err != nil {
				return nil, err
			}
		}
		return f.overlay(cfg, s)
	}
}

// Apply implements fleet.Applier.
func (f *fleetPart) Apply(_ context.Context, s fleet.Setup, t *fleet.SelfTest) ([]string, error) {
	base := f.d.cfg
	if s.Config == "" && f.d.opts.LoadConfig != nil {
		var err error
		if base, err = f.d.opts.LoadConfig(); err != nil {
			return nil, err
		}
	}
	cfg, err := f.overlay(base, s)
	if err != nil {
		return nil, err
	}
	var check func(map[string]*pipeline.Model) error
	if t != nil {
		check = func(next map[string]*pipeline.Model) error {
			m := next[t.Slot]
			if m == nil {
				return fmt.Errorf("model slot %q is not loaded", t.Slot)
			}
			return canaries(m, t.Canary)
		}
	}
	f.d.log.Info("fleet: loading the deployment beside the running setup")
	t0 := time.Now()
	changed, restart, err := f.d.rl.apply(cfg, check)
	f.d.rl.met.Reloaded(err == nil)
	if err != nil {
		f.d.rl.last.Store(&statusapi.Reload{At: t0, Error: err.Error()})
		return nil, err
	}
	f.d.rl.last.Store(&statusapi.Reload{At: t0, Applied: true, Restart: restart})
	f.mu.Lock()
	f.setup = s
	f.mu.Unlock()
	f.d.log.Info("fleet: swapped in", "changed", strings.Join(changed, ", "), "took_ms", time.Since(t0).Milliseconds())
	return restart, nil
}

// canaries checks that m ranks each canary image's expected label first.
func canaries(m *pipeline.Model, c []fleet.Canary) error {
	if len(c) == 0 {
		return nil
	}
	imgs := make([][]byte, len(c))
	for i := range c {
		imgs[i] = c[i].Image
	}
	got, err := m.TopLabels(imgs)
	if err != nil {
		return fmt.Errorf("canary images: %w", err)
	}
	var bad []string
	for i, l := range got {
		if l.Label != c[i].Expect {
			bad = append(bad, fmt.Sprintf("canary %d: top-1 %q (%.2f), expected %q", i, l.Label, l.Score, c[i].Expect))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// Check implements fleet.Applier: the canaries on the running model.
func (f *fleetPart) Check(slot string, c []fleet.Canary) error {
	r := f.d.rl
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.models[slot]
	if m == nil {
		return fmt.Errorf("model slot %q is not loaded", slot)
	}
	return canaries(m, c)
}

// ModelSHA256 implements fleet.Applier.
func (f *fleetPart) ModelSHA256(slot string) string {
	r := f.d.rl
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.models[slot]; m != nil {
		return m.SHA256()
	}
	return ""
}

// Counters implements fleet.Applier.
func (f *fleetPart) Counters() fleet.Counters {
	c := fleet.Counters{Live: true, Since: f.d.started}
	for _, st := range f.d.p.Stats() {
		c.Frames += st.Frames
		c.Failed += st.Failed
	}
	for _, st := range f.d.p.States() {
		if st.State != result.Streaming {
			c.Live = false
		}
	}
	c.Stalled = f.d.p.Stalls(time.Now(), statusapi.StallAfter)
	return c
}

// deployInfo is what /healthz shows of the fleet.
func (f *fleetPart) deployInfo() *statusapi.Deploy {
	s := f.agent.Status()
	return &statusapi.Deploy{State: s.State, ID: s.ID, Version: s.Version, Deployed: s.Deployed, Running: s.Running, Reason: s.Reason}
}
