package daemon

// Regions' states (kept in the state directory, restored at start) and
// Home Assistant discovery.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/homeassistant"
	"github.com/edged-io/edged/internal/pipeline"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/regionstate"
	"github.com/edged-io/edged/internal/result"
)

// statesSink records each state change in the store, then publishes it:
// a restart resumes from the newest state even if the broker never saw it
// (the queue still holds it).
type statesSink struct {
	store *regionstate.Store
	sink  *publish.Sink
	log   *slog.Logger
	// changed, when set, is told of each change after it was published
	// (the snapshots on state changes).
	changed func(result.StateChange)
}

func (s statesSink) PublishState(ctx context.Context, c result.StateChange) error {
	if err := s.store.Put(c.Camera, c.Region, c.To); err != nil {
		s.log.Warn("region state not saved: a restart resumes from the previous one", "camera", c.Camera, "region", c.Region, "err", err)
	}
	err := s.sink.PublishState(ctx, c)
	if s.changed != nil && !c.Restored {
		s.changed(c)
	}
	return err
}

// snapshots publishes a JPEG of the frame, with the regions and their
// states drawn, on <prefix>/<device>/<camera>/<region>/snapshot (retained:
// Home Assistant's MQTT image and camera entities show it) after each
// state change of a region with snapshot: true. Best effort, straight to
// the broker (not through the queue): one at a time per region, a change
// while one is on its way is skipped, and nothing is sent while the
// broker is away.
type snapshots struct {
	d      *Daemon
	wanted map[string]bool // camera/region
	mu     sync.Mutex
	busy   map[string]bool
}

func (s *snapshots) changed(c result.StateChange) {
	key := c.Camera + "/" + c.Region
	if !s.wanted[key] || s.d.pub == nil || !s.d.pub.Connected() {
		return
	}
	s.mu.Lock()
	if s.busy[key] {
		s.mu.Unlock()
		return
	}
	s.busy[key] = true
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			delete(s.busy, key)
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		snap, err := s.d.p.Snapshot(ctx, c.Camera, c.At, true)
		if err != nil {
			s.d.log.Debug("no snapshot for a state change", "camera", c.Camera, "region", c.Region, "err", err)
			return
		}
		topic := s.d.sink.Identity().SnapshotTopic(c.Camera, c.Region)
		if err := s.d.pub.Send(ctx, topic, snap.Overlay, true); err != nil {
			s.d.log.Debug("snapshot not published", "topic", topic, "err", err)
		}
	}()
}

// openStates opens the region states' store when a camera has regions and
// gives the pipeline its restore and state sink; with Home Assistant
// discovery on, it prepares the announcer.
func (d *Daemon) openStates(o *pipeline.Options) error {
	keep := map[string][]string{}
	for _, c := range d.cfg.Cameras {
		for _, r := range c.Regions {
			keep[c.Name] = append(keep[c.Name], r.Name)
		}
	}
	dir := StateDir(d.cfg.StateDir)
	// With the HTTP endpoint, the region editor may add regions to a
	// camera that has none: their states need the store too.
	if len(keep) > 0 || d.cfg.HTTP.Addr != "" {
		st, err := regionstate.Open(filepath.Join(dir, "regions-"+d.device+".json"), d.log)
		if err != nil {
			return err
		}
		if err := st.Keep(keep); err != nil {
			d.log.Warn("removed regions' states not dropped from the file", "err", err)
		}
		d.states = st
		o.Restore = st.Get
		ss := statesSink{store: st, sink: d.sink, log: d.log}
		snaps := &snapshots{d: d, wanted: map[string]bool{}, busy: map[string]bool{}}
		for _, c := range d.cfg.Cameras {
			for _, r := range c.Regions {
				if r.Snapshot {
					snaps.wanted[c.Name+"/"+r.Name] = true
				}
			}
		}
		if len(snaps.wanted) > 0 {
			ss.changed = snaps.changed
		}
		o.States = ss
		d.log.Info("region states", "path", st.Path(), "restored", len(st.All()))
	}
	if d.cfg.HomeAssistant.Discovery && d.pub != nil {
		entries, err := homeassistant.Entries(d.cfg, homeassistant.Device{ID: d.sink.Identity(), Version: d.opts.Version,
			ConfigurationURL: configurationURL(d.cfg.HTTP.Addr)})
		if err != nil {
			return fmt.Errorf("homeassistant: %w", err)
		}
		d.ha = homeassistant.NewAnnouncer(d.pub, d.cfg.HomeAssistant.Prefix, entries,
			filepath.Join(dir, "homeassistant-"+d.device+".json"), d.log)
	}
	return nil
}

// announceRestored publishes each restored region's state again
// (retained), so a broker that lost its retained messages has them back.
func (d *Daemon) announceRestored(ctx context.Context) error {
	if d.states == nil {
		return nil
	}
	now := time.Now()
	for cam, regions := range d.states.All() {
		for region, st := range regions {
			c := result.StateChange{Camera: cam, Region: region, From: st, To: st, At: now, Restored: true}
			if err := d.sink.PublishState(ctx, c); err != nil {
				d.log.Warn("restored region state not published", "camera", cam, "region", region, "err", err)
			}
		}
	}
	return nil
}

// configurationURL is the HTTP endpoint's address as Home Assistant's
// device page links it, or "" when it only listens on loopback (a link
// from another machine would not work) or is off.
func configurationURL(addr string) string {
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "localhost" {
		return ""
	}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.IsLoopback():
		return ""
	case host == "" || (ip != nil && ip.IsUnspecified()):
		host = Hostname()
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// publishStats publishes each camera's diagnostics (fps, inference time,
// queue depth) for Home Assistant's diagnostic sensors every period.
func (d *Daemon) publishStats(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	last, lastAt := d.p.Stats(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, stats := time.Now(), d.p.Stats()
		depth := 0
		if d.q != nil {
			depth = int(d.q.ob.Stats().Depth)
		}
		for cam, s := range stats {
			fps := float64(s.Frames-last[cam].Frames) / now.Sub(lastAt).Seconds()
			b, _ := json.Marshal(homeassistant.Stats{FPS: round2(fps), InferMS: round2(float64(s.Cost.Microseconds()) / 1000), QueueDepth: depth})
			if !d.pub.Connected() {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := d.pub.Send(sctx, homeassistant.StatsTopic(d.sink.Identity(), cam), b, false); err != nil && ctx.Err() == nil {
				d.log.Debug("stats not published", "camera", cam, "err", strings.TrimSpace(err.Error()))
			}
			cancel()
		}
		last, lastAt = stats, now
	}
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
