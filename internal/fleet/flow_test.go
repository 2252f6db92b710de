package fleet

// The agent's steps from manifest to status, on an in-memory broker and a
// daemon stand-in whose health counters the test drives. The real daemon,
// broker and runtime are in cmd/edged's fleet tests; these cover what
// those cannot make happen on demand: a box whose failures rise after a
// swap.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// memBroker delivers what is sent to the watchers whose filter matches
// (with + and a trailing #), keeping retained messages.
type memBroker struct {
	mu       sync.Mutex
	watch    map[string]func(string, []byte)
	retained map[string][]byte
	statuses []Status
}

func newMemBroker() *memBroker {
	return &memBroker{watch: map[string]func(string, []byte){}, retained: map[string][]byte{}}
}

func match(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i := range f {
		if f[i] == "#" {
			return true
		}
		if i >= len(t) || (f[i] != "+" && f[i] != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

func (b *memBroker) Send(_ context.Context, topic string, payload []byte, retain bool) error {
	b.mu.Lock()
	if retain {
		b.retained[topic] = payload
	}
	if strings.HasSuffix(topic, "/deploy/status") {
		var s Status
		json.Unmarshal(payload, &s)
		b.statuses = append(b.statuses, s)
	}
	var hs []func(string, []byte)
	for f, h := range b.watch {
		if match(f, topic) {
			hs = append(hs, h)
		}
	}
	b.mu.Unlock()
	for _, h := range hs {
		h(topic, payload)
	}
	return nil
}

func (b *memBroker) Watch(filter string, h func(string, []byte)) {
	b.mu.Lock()
	b.watch[filter] = h
	var old []string
	for t := range b.retained {
		if match(filter, t) {
			old = append(old, t)
		}
	}
	msgs := map[string][]byte{}
	for _, t := range old {
		msgs[t] = b.retained[t]
	}
	b.mu.Unlock()
	for t, p := range msgs {
		h(t, p)
	}
}

func (b *memBroker) Unwatch(filter string) {
	b.mu.Lock()
	delete(b.watch, filter)
	b.mu.Unlock()
}

func (b *memBroker) states() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, s := range b.statuses {
		if len(out) == 0 || out[len(out)-1] != s.State {
			out = append(out, s.State)
		}
	}
	return out
}

func (b *memBroker) last() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.statuses) == 0 {
		return Status{}
	}
	return b.statuses[len(b.statuses)-1]
}

// standIn plays the daemon: it records the setups swapped in and reports
// the counters the test sets.
type standIn struct {
	mu       sync.Mutex
	setups   []Setup
	counters Counters
	fail     error // Apply's error
}

func (s *standIn) Apply(_ context.Context, setup Setup, _ *SelfTest) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	s.setups = append(s.setups, setup)
	return nil, nil
}

func (s *standIn) Check(string, []Canary) error { return nil }

func (s *standIn) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

func (s *standIn) ModelSHA256(slot string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.setups) == 0 {
		return "configured-model"
	}
	return filepath.Base(s.setups[len(s.setups)-1].Slots[slot].Model)
}

func (s *standIn) set(f func(*Counters)) {
	s.mu.Lock()
	f(&s.counters)
	s.mu.Unlock()
}

type flowRig struct {
	broker *memBroker
	box    *standIn
	store  *Store
	key    PrivateKey
	cancel context.CancelFunc
	done   chan struct{}
}

func startFlow(t *testing.T, window time.Duration) *flowRig {
	t.Helper()
	return startFlowIn(t, t.TempDir(), window)
}

// startFlowIn starts an agent on the store in dir (made by an earlier
// start with the same dir, for a restart).
func startFlowIn(t *testing.T, dir string, window time.Duration) *flowRig {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "op.pub")); err != nil {
		if _, err := Keygen(filepath.Join(dir, "op"), nil); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := ReadPublicKey(filepath.Join(dir, "op.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ReadPrivateKey(filepath.Join(dir, "op.key"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(filepath.Join(dir, "fleet"), 2)
	if err != nil {
		t.Fatal(err)
	}
	r := &flowRig{broker: newMemBroker(), box: &standIn{counters: Counters{Live: true, Since: time.Now().Add(-time.Minute), Frames: 600}},
		store: store, key: key, done: make(chan struct{})}
	a, err := NewAgent(AgentOptions{Device: "b1", Groups: []string{"g"}, TopicPrefix: "edged", Keys: []PublicKey{pub},
		Store: store, Client: r.broker, Applier: r.box, MaxBytes: 1 << 20, HealthWindow: window, DownloadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { a.Run(ctx); close(r.done) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the agent (a restart, or the test's end).
func (r *flowRig) stop() {
	r.cancel()
	<-r.done
}

func (r *flowRig) deploy(t *testing.T, b Build) *Deployment {
	t.Helper()
	d, err := Sign(b, r.key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	topic := GroupTopic("edged", "g")
	for sum, parts := range d.Parts() {
		for i, p := range parts {
			r.broker.Send(context.Background(), ChunkTopic(topic, sum, i), p, true)
		}
	}
	r.broker.Send(context.Background(), topic, d.Envelope, true)
	return d
}

func (r *flowRig) waitState(t *testing.T, version uint64, want string, within time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := r.broker.last()
		if s.Version == version && s.State == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %q (%s) after %v, want %q; states %v", s.State, s.Reason, within, want, r.broker.states())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFlowAppliedThenHealthy(t *testing.T) {
	r := startFlow(t, 300*time.Millisecond)
	d := r.deploy(t, Build{Groups: []string{"g"}, Model: []byte("model bytes v2"), ChunkSize: MinChunkSize})
	s := r.waitState(t, d.Manifest.Version, StateApplied, 5*time.Second)
	for s.Healthy == nil || !*s.Healthy {
		s = r.waitState(t, d.Manifest.Version, StateApplied, 5*time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	want := []string{StateIdle, StateReceived, StateDownloading, StateVerifying, StateTesting, StateApplied}
	if got := r.broker.states(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("states %v, want %v", got, want)
	}
	if len(r.box.setups) != 1 || r.box.setups[0].Slots["default"].Model == "" {
		t.Fatalf("setups swapped in: %+v", r.box.setups)
	}
	// Saved: a new agent on the store runs the same setup.
	st, err := r.store.Load()
	if err != nil || SetupOf(st).Slots["default"] != r.box.setups[0].Slots["default"] || st.Version != d.Manifest.Version {
		t.Fatalf("stored %+v, %v", st, err)
	}
}

func TestFlowRollsBackWhenFailuresRise(t *testing.T) {
	r := startFlow(t, 3*time.Second)
	d := r.deploy(t, Build{Groups: []string{"g"}, Model: []byte("a model that fails on real frames")})
	r.waitState(t, d.Manifest.Version, StateApplied, 5*time.Second)
	r.box.set(func(c *Counters) { c.Frames += 10; c.Failed += 5 })
	s := r.waitState(t, d.Manifest.Version, StateRolledBack, 5*time.Second)
	if !strings.Contains(s.Reason, "crops failed") {
		t.Errorf("reason %q", s.Reason)
	}
	if len(r.box.setups) != 2 || len(r.box.setups[1].Slots) != 0 {
		t.Fatalf("the rollback did not swap the configuration's own model back in: %+v", r.box.setups)
	}
	st, _ := r.store.Load()
	if len(SetupOf(st).Slots) != 0 || st.Version != d.Manifest.Version {
		t.Errorf("stored after the rollback: %+v", st)
	}
	// The same manifest again (a retained copy after a reconnect) is not
	// taken again.
	r.broker.Send(context.Background(), GroupTopic("edged", "g"), d.Envelope, true)
	time.Sleep(100 * time.Millisecond)
	if len(r.box.setups) != 2 {
		t.Errorf("a repeated manifest was applied again")
	}
}

func TestFlowRollsBackWhenFrameRateFalls(t *testing.T) {
	r := startFlow(t, 2*time.Second)
	d := r.deploy(t, Build{Groups: []string{"g"}, Model: []byte("a model too slow for the camera")})
	r.waitState(t, d.Manifest.Version, StateApplied, 5*time.Second)
	// 10 frames/s before the swap (600 in a minute), none after.
	s := r.waitState(t, d.Manifest.Version, StateRolledBack, 5*time.Second)
	if !strings.Contains(s.Reason, "frames/s since the swap") {
		t.Errorf("reason %q", s.Reason)
	}
}

func TestFlowApplyFailureChangesNothing(t *testing.T) {
	r := startFlow(t, time.Second)
	r.box.fail = errors.New(`camera "door": model "default" input [1 32 32 3] differs from [1 224 224 3]: needs a restart`)
	d := r.deploy(t, Build{Groups: []string{"g"}, Model: []byte("other input size")})
	s := r.waitState(t, d.Manifest.Version, StateRejected, 5*time.Second)
	if !strings.Contains(s.Reason, "needs a restart") || s.SHA256 != "configured-model" {
		t.Errorf("status %+v", s)
	}
	st, _ := r.store.Load()
	if len(SetupOf(st).Slots) != 0 {
		t.Errorf("stored a setup that was never applied: %+v", st)
	}
}

// A box restarted within the health window watches again from its start,
// and rolls back when its failures rise.
func TestFlowHealthWindowResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	r := startFlowIn(t, dir, time.Minute)
	d := r.deploy(t, Build{Groups: []string{"g"}, Model: []byte("a model watched across a restart")})
	r.waitState(t, d.Manifest.Version, StateApplied, 5*time.Second)
	r.stop() // killed within the window: the status says healthy: false

	r2 := startFlowIn(t, dir, 2*time.Second)
	// No frames since the restart: the stand-in's rate falls to nothing.
	s := r2.waitState(t, d.Manifest.Version, StateRolledBack, 5*time.Second)
	if !strings.Contains(s.Reason, "frames/s since the swap") || len(r2.box.setups) != 1 || len(r2.box.setups[0].Slots) != 0 {
		t.Fatalf("status %+v, setups %+v", s, r2.box.setups)
	}
	st, _ := r2.store.Load()
	if sl := st.Slots["default"]; sl == nil || sl.Current.Path != "" {
		t.Errorf("stored after the rollback: %+v", st.Slots)
	}
}
