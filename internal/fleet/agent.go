package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client is the MQTT connection the agent uses (the daemon's publisher).
type Client interface {
	// Send publishes and waits for the broker's acknowledgement.
	Send(ctx context.Context, topic string, payload []byte, retain bool) error
	// Watch calls handle with each message on filter (wildcards allowed),
	// from now on and after every reconnection; handle must not block.
	Watch(filter string, handle func(topic string, payload []byte))
	// Unwatch ends a Watch.
	Unwatch(filter string)
}

// Reconnector is a Client that can say when it connected again: the agent
// then publishes its status again, for a broker that started after it or
// lost its retained messages.
type Reconnector interface {
	OnConnect(func())
}

// Setup is what the deployments put in place of the configuration's own
// files: a model (and labels) per slot, and a configuration document.
type Setup struct {
	Slots  map[string]SlotFiles
	Config string // a deployed configuration file; "" for edged's own
}

// SlotFiles are the files of one model slot.
type SlotFiles struct {
	Model  string
	Labels string // "" keeps the labels the configuration gives
}

// SelfTest is what must hold of a new setup before it is swapped in: the
// slot's model ranks each canary image's expected label first.
type SelfTest struct {
	Slot   string
	Canary []Canary
}

// Counters are the daemon's health figures the health window compares.
type Counters struct {
	Frames uint64 // frames inferred since start, all cameras
	Failed uint64 // crops skipped because the model failed on them
	// Live is false while any camera is not streaming (a file at its end,
	// reconnecting): then the frame rate is not compared.
	Live    bool
	Stalled []string // stages blocked past the stall limit
	Since   time.Time
}

// Applier swaps setups into the running daemon.
type Applier interface {
	// Apply loads s beside what runs, runs the self-test (a warm-up
	// invoke and t's canaries) and swaps it in between frames; on any
	// error nothing running changes. It returns the configuration keys
	// that changed but take effect only at a restart.
	Apply(ctx context.Context, s Setup, t *SelfTest) (restart []string, err error)
	// Check runs canaries through the model slot runs now.
	Check(slot string, canary []Canary) error
	Counters() Counters
	// ModelSHA256 is the sha256 of the model slot runs now ("" when
	// there is no such slot).
	ModelSHA256(slot string) string
}

// AgentOptions configure an Agent.
type AgentOptions struct {
	Device      string
	Groups      []string
	TopicPrefix string
	Keys        []PublicKey
	Store       *Store
	Client      Client
	Applier     Applier
	Log         *slog.Logger
	// MaxBytes bounds each artifact.
	MaxBytes int64
	// HealthWindow is how long an applied deployment is watched.
	HealthWindow time.Duration
	// DownloadTimeout is how long a download may go without progress
	// before it fails (chunks are asked for again three times within it).
	DownloadTimeout time.Duration
	HTTP            *http.Client
	Now             func() time.Time
}

// Agent is the device side of fleet deployment: it takes signed manifests
// from the box's deploy topics, fetches and checks what they name, has
// the daemon test and swap it in, watches its health, and reports every
// step on the retained status topic.
type Agent struct {
	o     AgentOptions
	log   *slog.Logger
	state *State

	manifests chan delivery
	chunks    chan delivery

	mu     sync.Mutex
	status Status
	pubMu  sync.Mutex // held while a status is published
}

type delivery struct {
	topic   string
	payload []byte
}

// NewAgent reads the store's state. The daemon applies SetupOf(state)
// before it loads its models, so a restart runs what was deployed.
func NewAgent(o AgentOptions) (*Agent, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DownloadTimeout <= 0 {
		o.DownloadTimeout = 2 * time.Minute
	}
	if o.HTTP == nil {
		c, err := HTTPClient("", 10*time.Minute)
		if err != nil {
			return nil, err
		}
		o.HTTP = c
	}
	st, err := o.Store.Load()
	if err != nil {
		return nil, err
	}
	a := &Agent{o: o, log: o.Log.With("part", "fleet"), state: st,
		manifests: make(chan delivery, 16), chunks: make(chan delivery, 512)}
	a.status = Status{Device: o.Device, Groups: o.Groups, State: StateIdle, At: o.Now().UTC()}
	if st.Status != nil {
		a.status = *st.Status
		a.status.Groups = o.Groups
		a.status.Bytes, a.status.Total = 0, 0
	}
	a.status.Running, a.status.Deployed = a.running(), st.deployedVersion()
	return a, nil
}

// Setup is the setup the store holds now.
func (a *Agent) Setup() Setup { return SetupOf(a.state) }

// SetupOf is the setup a state describes.
func SetupOf(st *State) Setup {
	s := Setup{Slots: map[string]SlotFiles{}}
	for name, sl := range st.Slots {
		if sl.Current.Path != "" { // else the configuration's own model
			s.Slots[name] = SlotFiles{Model: sl.Current.Path, Labels: sl.Current.Labels}
		}
	}
	if st.Config != nil {
		s.Config = st.Config.Path
	}
	return s
}

func (st *State) deployedVersion() uint64 {
	var v uint64
	for _, sl := range st.Slots {
		v = max(v, sl.Current.Version)
	}
	if st.Config != nil {
		v = max(v, st.Config.Version)
	}
	return v
}

func (a *Agent) running() map[string]string {
	if len(a.state.Slots) == 0 {
		return nil
	}
	out := map[string]string{}
	for name, sl := range a.state.Slots {
		if sl.Current.Path != "" {
			out[name] = sl.Current.SHA256
		} else if a.o.Applier != nil {
			out[name] = a.o.Applier.ModelSHA256(name)
		}
	}
	return out
}

// Status is the latest status, for /healthz and metrics.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	return s
}

// topics are the deploy topics this box listens on.
func (a *Agent) topics() []string {
	t := []string{DeviceTopic(a.o.TopicPrefix, a.o.Device)}
	for _, g := range a.o.Groups {
		t = append(t, GroupTopic(a.o.TopicPrefix, g))
	}
	return t
}

// Run takes deployments until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	for _, t := range a.topics() {
		a.o.Client.Watch(t, func(topic string, payload []byte) {
			select {
			case a.manifests <- delivery{topic, payload}:
			default:
				a.log.Warn("deploy message dropped: too many waiting", "topic", topic)
			}
		})
	}
	defer func() {
		for _, t := range a.topics() {
			a.o.Client.Unwatch(t)
		}
	}()
	if rc, ok := a.o.Client.(Reconnector); ok {
		rc.OnConnect(func() {
			if ctx.Err() == nil {
				a.publish(ctx, nil)
			}
		})
	}
	a.publish(ctx, nil)
	a.resume(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-a.manifests:
			a.handle(ctx, d)
		}
	}
}

// resume finishes the health window of a deployment applied before a
// restart (the status still says healthy: false): the window runs again
// from now, on the failure and stall counters (the frame rate has no
// "before" yet, and the manifest's canaries were not kept). A slot that
// degrades goes back to its previous model.
func (a *Agent) resume(ctx context.Context) {
	s := a.Status()
	if s.State != StateApplied || s.Healthy == nil || *s.Healthy {
		return
	}
	a.log.Info("resuming the health window of the deployment applied before the restart", "id", s.ID, "version", s.Version)
	why := a.watch(ctx, a.o.HealthWindow, a.o.Applier.Counters(), nil)
	if ctx.Err() != nil {
		return
	}
	if why == "" {
		healthy := true
		a.finish(ctx, func(s *Status) { s.Healthy = &healthy })
		return
	}
	sl := a.state.Slots[s.Slot]
	if sl == nil || len(sl.Previous) == 0 {
		a.log.Error("deployment degraded the box and nothing is kept to roll back to", "id", s.ID, "why", why)
		a.finish(ctx, func(s *Status) { s.Reason = "degraded (" + why + "); nothing kept to roll back to" })
		return
	}
	next := SetupOf(a.state)
	back := sl.Previous[0]
	if back.Path == "" {
		delete(next.Slots, s.Slot)
	} else {
		next.Slots[s.Slot] = SlotFiles{Model: back.Path, Labels: back.Labels}
	}
	a.log.Warn("deployment degraded the box: rolling back", "id", s.ID, "why", why)
	if _, err := a.o.Applier.Apply(ctx, next, nil); err != nil {
		a.log.Error("rollback failed; the new setup keeps running", "err", err)
		a.finish(ctx, func(s *Status) { s.Reason = "degraded (" + why + ") and the rollback failed: " + err.Error() })
		return
	}
	sl.Current, sl.Previous = back, sl.Previous[1:]
	a.finish(ctx, func(st *Status) {
		st.State, st.Reason, st.Healthy = StateRolledBack, why, nil
		st.SHA256 = a.o.Applier.ModelSHA256(s.Slot)
	})
	a.o.Store.Clean(a.state)
}

// update applies change (when set) to the status, stamps it, fills in
// what runs, and returns a copy.
func (a *Agent) update(change func(*Status)) Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	if change != nil {
		change(&a.status)
		a.status.At = a.o.Now().UTC()
	}
	a.status.Running, a.status.Deployed = a.running(), a.state.deployedVersion()
	return a.status
}

// publish updates the status (when change is not nil) and publishes it
// retained.
func (a *Agent) publish(ctx context.Context, change func(*Status)) {
	// One publish at a time, so that the broker keeps the newest status
	// (a reconnection publishes from a goroutine of its own).
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	data, err := json.Marshal(a.update(change))
	if err != nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.o.Client.Send(sctx, StatusTopic(a.o.TopicPrefix, a.o.Device), data, true); err != nil {
		a.log.Debug("deploy status not published", "err", err)
	}
}

// finish records a final status in the store and then publishes it: what
// the status topic says is what a restart keeps.
func (a *Agent) finish(ctx context.Context, change func(*Status)) {
	s := a.update(change)
	a.state.Status = &s
	if err := a.o.Store.Save(a.state); err != nil {
		a.log.Error("fleet state not saved", "err", err)
	}
	a.publish(ctx, nil)
}

// rejectWith reports a rejected deployment with one log line.
func (a *Agent) rejectWith(ctx context.Context, m *Manifest, received time.Time, err error) {
	reason := err.Error()
	args := []any{"reason", reason}
	if m != nil {
		args = append(args, "id", m.ID, "version", m.Version)
	}
	a.log.Warn("deployment rejected; nothing changed", args...)
	a.finish(ctx, func(s *Status) {
		*s = Status{Device: s.Device, Groups: s.Groups, State: StateRejected, Reason: reason, Received: received}
		if m != nil {
			s.ID, s.Version = m.ID, m.Version
			if m.Model != nil {
				s.Slot = m.Model.Slot
				s.SHA256 = a.o.Applier.ModelSHA256(m.Model.Slot)
			}
		}
	})
}

func (a *Agent) handle(ctx context.Context, d delivery) {
	if len(d.payload) == 0 {
		return // a retained deployment cleared
	}
	received := a.o.Now().UTC()
	m, _, err := Open(d.payload, a.o.Keys)
	if err != nil {
		a.rejectWith(ctx, nil, received, err)
		return
	}
	if m.Version == a.state.Version && m.ID == a.state.ID {
		return // taken already (a retained copy, or the group copy of a canary's)
	}
	if !m.For(a.o.Device, a.o.Groups) {
		a.rejectWith(ctx, m, received, reject("manifest %s is for devices %v and groups %v: not this box (device %s, groups %v)", m.ID, m.Devices, m.Groups, a.o.Device, a.o.Groups))
		return
	}
	if now := a.o.Now(); now.After(m.Expires) {
		a.rejectWith(ctx, m, received, reject("manifest %s expired at %s", m.ID, m.Expires.UTC().Format(time.RFC3339)))
		return
	}
	if m.Version <= a.state.Version {
		a.rejectWith(ctx, m, received, reject("manifest %s: version %d is not above %d, the last this box took (replayed or older)", m.ID, m.Version, a.state.Version))
		return
	}
	for role, art := range m.Artifacts() {
		if art.Size > a.o.MaxBytes {
			a.rejectWith(ctx, m, received, reject("manifest %s: %s of %d bytes: larger than fleet.max_model_bytes (%d)", m.ID, role, art.Size, a.o.MaxBytes))
			return
		}
	}
	a.log.Info("deployment received", "id", m.ID, "version", m.Version, "topic", d.topic)
	a.publish(ctx, func(s *Status) {
		*s = Status{Device: s.Device, Groups: s.Groups, State: StateReceived, ID: m.ID, Version: m.Version, Received: received}
		if m.Model != nil {
			s.Slot = m.Model.Slot
		}
	})
	err = a.deploy(ctx, m, d.topic)
	if ctx.Err() != nil {
		return // stopping: the deployment resumes when the manifest comes again
	}
	// The version is taken whatever came of it: a retry is a new manifest.
	a.state.Version, a.state.ID = m.Version, m.ID
	if err != nil {
		a.rejectWith(ctx, m, received, err)
		return
	}
}

// deploy fetches, checks, tests and applies m, then watches its health.
func (a *Agent) deploy(ctx context.Context, m *Manifest, topic string) error {
	files := map[string]string{} // role → verified path
	var total int64
	for _, art := range m.Artifacts() {
		total += art.Size
	}
	var done int64
	for _, role := range []string{"model", "labels", "config"} {
		art := m.Artifacts()[role]
		if art == nil {
			continue
		}
		ext := map[string]string{"model": ".tflite", "labels": ".txt", "config": ".yaml"}[role]
		dst := a.o.Store.ArtifactPath(art.SHA256, ext)
		if err := a.get(ctx, topic, art, dst, done, total); err != nil {
			return fmt.Errorf("%s: %w", role, err)
		}
		done += art.Size
		files[role] = dst
	}
	a.publish(ctx, func(s *Status) { s.State, s.Bytes, s.Total = StateTesting, total, total })

	next := SetupOf(a.state)
	var test *SelfTest
	now := a.o.Now().UTC()
	var slot Deployed
	if mt := m.Model; mt != nil {
		cur := a.state.Slots[mt.Slot]
		switch {
		case mt.Model != nil:
			slot = Deployed{SHA256: mt.Model.SHA256, Path: files["model"], ID: m.ID, Version: m.Version, At: now}
			if mt.Labels != nil {
				slot.Labels, slot.LabelsSHA256 = files["labels"], mt.Labels.SHA256
			}
		case cur == nil || len(cur.Previous) == 0:
			return reject("rollback of slot %q: no previous model is kept on this box", mt.Slot)
		default:
			slot = cur.Previous[0]
			slot.ID, slot.Version, slot.At = m.ID, m.Version, now
		}
		if slot.Path == "" {
			delete(next.Slots, mt.Slot) // back to the configuration's own model
		} else {
			next.Slots[mt.Slot] = SlotFiles{Model: slot.Path, Labels: slot.Labels}
		}
		test = &SelfTest{Slot: mt.Slot, Canary: m.Canary}
	}
	if m.Config != nil {
		next.Config = files["config"]
	}
	prev := SetupOf(a.state)
	t0 := time.Now()
	restart, err := a.o.Applier.Apply(ctx, next, test)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	before := a.o.Applier.Counters()
	// Applied: persist, so a restart runs it.
	old := cloneState(a.state)
	if mt := m.Model; mt != nil {
		if m.Rollback && mt.Model == nil {
			sl := a.state.Slots[mt.Slot]
			sl.Current, sl.Previous = slot, append([]Deployed{sl.Current}, sl.Previous[1:]...)
		} else {
			a.o.Store.Push(a.state, mt.Slot, slot)
		}
	}
	if m.Config != nil {
		a.state.Config = &Deployed{SHA256: m.Config.SHA256, Path: files["config"], ID: m.ID, Version: m.Version, At: now}
	}
	a.state.Version, a.state.ID = m.Version, m.ID
	if err := a.o.Store.Save(a.state); err != nil {
		a.log.Error("deployment applied but not saved: a restart goes back", "err", err)
	}
	// What the state no longer names is removed once the health window
	// is over: a rollback within it needs the previous files.
	defer a.o.Store.Clean(a.state)
	healthy := false
	a.log.Info("deployment applied", "id", m.ID, "version", m.Version, "took_ms", time.Since(t0).Milliseconds())
	a.finish(ctx, func(s *Status) {
		s.State, s.Reason, s.Healthy, s.Restart = StateApplied, "", &healthy, restart
		if m.Model != nil {
			s.SHA256 = a.o.Applier.ModelSHA256(m.Model.Slot)
		}
	})

	window := a.o.HealthWindow
	if m.HealthWindow != "" {
		window, _ = time.ParseDuration(m.HealthWindow)
	}
	if why := a.watch(ctx, window, before, test); why != "" {
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("deployment degraded the box: rolling back", "id", m.ID, "why", why)
		if _, err := a.o.Applier.Apply(ctx, prev, nil); err != nil {
			a.log.Error("rollback failed; the new setup keeps running", "err", err)
			a.finish(ctx, func(s *Status) { s.Reason = "degraded (" + why + ") and the rollback failed: " + err.Error() })
			return nil
		}
		*a.state = *old
		a.state.Version, a.state.ID = m.Version, m.ID
		if err := a.o.Store.Save(a.state); err != nil {
			a.log.Error("fleet state not saved", "err", err)
		}
		a.finish(ctx, func(s *Status) {
			s.State, s.Reason, s.Healthy = StateRolledBack, why, nil
			if m.Model != nil {
				s.SHA256 = a.o.Applier.ModelSHA256(m.Model.Slot)
			}
		})
		return nil
	}
	if ctx.Err() == nil {
		healthy = true
		a.log.Info("deployment healthy", "id", m.ID, "window", window.String())
		a.finish(ctx, func(s *Status) { s.Healthy = &healthy })
	}
	return nil
}

func cloneState(st *State) *State {
	data, _ := json.Marshal(st)
	var c State
	json.Unmarshal(data, &c)
	if c.Slots == nil {
		c.Slots = map[string]*Slot{}
	}
	return &c
}

// watch watches the health counters for window; it returns why the box
// degraded, or "" when it held.
func (a *Agent) watch(ctx context.Context, window time.Duration, before Counters, test *SelfTest) string {
	if window <= 0 {
		return ""
	}
	start := a.o.Now()
	tick := time.NewTicker(min(window/4+time.Millisecond, 2*time.Second))
	defer tick.Stop()
	end := time.NewTimer(window)
	defer end.Stop()
	checked := false
	for {
		select {
		case <-ctx.Done():
			return "stopping"
		case <-tick.C:
			if why := degraded(before, a.o.Applier.Counters(), start, a.o.Now(), window); why != "" {
				return why
			}
			if !checked && test != nil && len(test.Canary) > 0 && a.o.Now().Sub(start) >= window/2 {
				checked = true
				if err := a.o.Applier.Check(test.Slot, test.Canary); err != nil {
					return "canary check in the health window: " + err.Error()
				}
			}
		case <-end.C:
			if why := degraded(before, a.o.Applier.Counters(), start, a.o.Now(), window); why != "" {
				return why
			}
			if test != nil && len(test.Canary) > 0 {
				if err := a.o.Applier.Check(test.Slot, test.Canary); err != nil {
					return "canary check in the health window: " + err.Error()
				}
			}
			return ""
		}
	}
}

// degraded compares the counters since the swap with those before it.
func degraded(before, now Counters, swapped, at time.Time, window time.Duration) string {
	if len(now.Stalled) > 0 {
		return "stalled: " + strings.Join(now.Stalled, "; ")
	}
	if now.Frames < before.Frames || now.Failed < before.Failed {
		return "" // counters started over (the cameras were rebuilt): nothing to compare
	}
	frames, failed := now.Frames-before.Frames, now.Failed-before.Failed
	if failed > 0 {
		ratio := float64(failed) / float64(frames+failed)
		base := 0.0
		if before.Frames+before.Failed > 0 {
			base = float64(before.Failed) / float64(before.Frames+before.Failed)
		}
		if ratio > max(0.05, 2*base) {
			return fmt.Sprintf("%d of %d crops failed since the swap (%.0f%%; %.1f%% before)", failed, frames+failed, 100*ratio, 100*base)
		}
	}
	// The frame rate, once a quarter of the window has passed, when the
	// cameras stream and there was a rate to compare with.
	ran := at.Sub(swapped)
	if !now.Live || !before.Live || ran < window/4 || ran < 2*time.Second {
		return ""
	}
	up := swapped.Sub(before.Since)
	if up < 5*time.Second || before.Frames < 10 {
		return ""
	}
	baseRate := float64(before.Frames) / up.Seconds()
	rate := float64(frames) / ran.Seconds()
	if rate < baseRate/2 {
		return fmt.Sprintf("%.1f frames/s since the swap, %.1f before", rate, baseRate)
	}
	return ""
}

// get puts the verified artifact at dst: already there, in chunks over
// MQTT, or over HTTP(S).
func (a *Agent) get(ctx context.Context, topic string, art *Artifact, dst string, done, total int64) error {
	if ok, _ := checkFile(dst, art); ok {
		return nil
	}
	var err error
	if len(art.Chunks) > 0 {
		if err = a.chunked(ctx, topic, art, dst, done, total); err == nil || art.URL == "" || ctx.Err() != nil {
			return err
		}
		a.log.Warn("chunked download failed; trying the url", "err", err, "url", art.URL)
	}
	a.publish(ctx, func(s *Status) { s.State, s.Bytes, s.Total = StateDownloading, done, total })
	if err = a.o.Store.Fetch(ctx, a.o.HTTP, art, dst); err != nil {
		a.o.Store.Clean(a.state)
		return err
	}
	a.publish(ctx, func(s *Status) { s.State = StateVerifying })
	return nil
}

// checkFile reports whether path holds art already.
func checkFile(path string, art *Artifact) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return verifyFile(f, art) == nil, nil
}

// chunked assembles art from the chunks under topic. Chunks are asked for
// again (by subscribing anew: the broker sends the retained ones) when
// none came for a quarter of the download timeout.
func (a *Agent) chunked(ctx context.Context, topic string, art *Artifact, dst string, done, total int64) error {
	as, err := a.o.Store.Assemble(art)
	if err != nil {
		return err
	}
	defer as.Close()
	filter := topic + "/chunk/" + art.SHA256 + "/+"
	prefix := topic + "/chunk/" + art.SHA256 + "/"
	// Deliveries of an earlier subscription may still be queued.
	drain(a.chunks)
	watch := func() {
		a.o.Client.Watch(filter, func(t string, p []byte) {
			select {
			case a.chunks <- delivery{t, p}:
				return
			default:
			}
			// The writer is behind (a slow disk): hold the broker's
			// deliveries a moment rather than drop a chunk, which would
			// cost a quiet spell and a resend.
			timer := time.NewTimer(2 * time.Second)
			defer timer.Stop()
			select {
			case a.chunks <- delivery{t, p}:
			case <-timer.C: // asked for again at the next quiet spell
			}
		})
	}
	watch()
	defer a.o.Client.Unwatch(filter)
	a.publish(ctx, func(s *Status) { s.State, s.Bytes, s.Total = StateDownloading, done+as.Received(), total })
	quiet := a.o.DownloadTimeout / 4
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	lastReport, idle := time.Now(), 0
	var lastErr error
	for as.Missing() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d := <-a.chunks:
			if !strings.HasPrefix(d.topic, prefix) {
				continue
			}
			i, err := strconv.Atoi(d.topic[len(prefix):])
			if err != nil {
				continue
			}
			isNew, err := as.Put(i, d.payload)
			if err != nil {
				if lastErr == nil || lastErr.Error() != err.Error() {
					a.log.Warn("chunk refused", "err", err)
				}
				lastErr = err
				continue
			}
			if isNew {
				idle = 0
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(quiet)
				if time.Since(lastReport) > time.Second {
					lastReport = time.Now()
					a.publish(ctx, func(s *Status) { s.Bytes = done + as.Received() })
				}
			}
		case <-timer.C:
			a.publish(ctx, func(s *Status) { s.Bytes = done + as.Received() })
			idle++
			if idle >= 4 {
				why := fmt.Sprintf("download stalled: %d of %d chunks after %v without progress", len(art.Chunks)-as.Missing(), len(art.Chunks), a.o.DownloadTimeout)
				if lastErr != nil {
					why += " (last refused: " + lastErr.Error() + ")"
				}
				return errors.New(why)
			}
			a.o.Client.Unwatch(filter)
			watch()
			timer.Reset(quiet)
		}
	}
	a.publish(ctx, func(s *Status) { s.State, s.Bytes = StateVerifying, done+art.Size })
	return as.Finish(dst)
}

func drain(c chan delivery) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// Chunks cuts data into chunks of size bytes and returns the artifact
// describing them.
func Chunks(data []byte, size int) (*Artifact, [][]byte) {
	size = max(size, 1)
	sum := sha256.Sum256(data)
	a := &Artifact{SHA256: hexSHA(sum[:]), Size: int64(len(data)), ChunkSize: size}
	var parts [][]byte
	for off := 0; off < len(data); off += size {
		p := data[off:min(off+size, len(data))]
		s := sha256.Sum256(p)
		a.Chunks = append(a.Chunks, hexSHA(s[:]))
		parts = append(parts, p)
	}
	return a, parts
}
