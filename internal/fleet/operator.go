package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-io/edged/internal/publish/mqtt"
)

// Build is what an operator deploys.
type Build struct {
	ID        string
	Version   uint64 // 0: the current time in milliseconds
	Devices   []string
	Groups    []string
	Slot      string
	Model     []byte
	Labels    []byte
	Config    []byte
	URL       string // the model's URL, when it is fetched over HTTP(S)
	Canary    []Canary
	Rollback  bool
	Expires   time.Duration // from now; 0: 7 days
	ChunkSize int           // 0: 256 KiB, more for artifacts above 900 such chunks
	Health    string        // the manifest's health_window; "" keeps the box's
}

// Deployment is a built, signed deployment ready to publish.
type Deployment struct {
	Manifest *Manifest
	Envelope []byte
	parts    map[string][][]byte // artifact sha256 → chunks
}

// DefaultChunkSize is the chunk size `edged deploy` uses for artifacts
// of up to MaxAutoChunks of them; larger artifacts get larger chunks.
const DefaultChunkSize = 256 << 10

// MaxAutoChunks bounds the chunks of an artifact when the chunk size is
// left to Sign.
const MaxAutoChunks = 900

// Sign builds the manifest for b, signs it with key and returns it with
// its chunks.
func Sign(b Build, key PrivateKey, now time.Time) (*Deployment, error) {
	auto := b.ChunkSize == 0
	if auto {
		b.ChunkSize = DefaultChunkSize
	}
	if b.ChunkSize < MinChunkSize || b.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d: between %d and %d bytes", b.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if b.Version == 0 {
		b.Version = uint64(now.UnixMilli())
	}
	if b.Expires == 0 {
		b.Expires = 7 * 24 * time.Hour
	}
	if b.ID == "" {
		b.ID = fmt.Sprintf("deploy-%d", b.Version)
	}
	m := &Manifest{ID: b.ID, Version: b.Version, Issued: now.UTC().Truncate(time.Second),
		Expires: now.Add(b.Expires).UTC().Truncate(time.Second), Devices: b.Devices, Groups: b.Groups,
		Rollback: b.Rollback, Canary: b.Canary, HealthWindow: b.Health}
	d := &Deployment{Manifest: m, parts: map[string][][]byte{}}
	art := func(data []byte, url string) *Artifact {
		size := b.ChunkSize
		if auto {
			// Brokers queue about a thousand messages per subscriber by
			// default (mosquitto, EMQX, HiveMQ): larger chunks keep an
			// artifact under MaxAutoChunks of them.
			size = min(max(size, (len(data)+MaxAutoChunks-1)/MaxAutoChunks), MaxChunkSize)
		}
		a, parts := Chunks(data, size)
		if url != "" {
			a.URL, a.Chunks, a.ChunkSize = url, nil, 0
			return a
		}
		d.parts[a.SHA256] = parts
		return a
	}
	if b.Model != nil || b.Rollback && b.Config == nil {
		if b.Slot == "" {
			b.Slot = "default"
		}
		m.Model = &ModelTarget{Slot: b.Slot}
		if b.Model != nil {
			m.Model.Model = art(b.Model, b.URL)
		}
		if b.Labels != nil {
			m.Model.Labels = art(b.Labels, "")
		}
	}
	if b.Config != nil {
		m.Config = art(b.Config, "")
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := ParseManifest(data); err != nil {
		return nil, fmt.Errorf("the manifest would be refused: %w", err)
	}
	if d.Envelope, err = Seal(data, key); err != nil {
		return nil, err
	}
	if len(d.Envelope) > MaxEnvelope {
		return nil, fmt.Errorf("signed manifest of %d bytes: boxes take at most %d (fewer or smaller canary images)", len(d.Envelope), MaxEnvelope)
	}
	return d, nil
}

// Parts are the chunks of d's artifacts, by artifact sha256, in order.
func (d *Deployment) Parts() map[string][][]byte { return d.parts }

// Bytes is what publishing d to one deploy topic sends to the broker.
func (d *Deployment) Bytes() int64 {
	n := int64(len(d.Envelope))
	for _, parts := range d.parts {
		for _, p := range parts {
			n += int64(len(p))
		}
	}
	return n
}

// BrokerOptions say how the operator's tools reach the broker.
type BrokerOptions struct {
	URL          string
	Username     string
	PasswordFile string
	CAFile       string
	TopicPrefix  string
	Timeout      time.Duration
}

// Operator is an MQTT connection for deploying and following deployments.
type Operator struct {
	o      BrokerOptions
	client paho.Client

	mu       sync.Mutex
	statuses map[string]Status // by device
	changed  chan struct{}
}

// Dial connects to the broker.
func Dial(ctx context.Context, o BrokerOptions) (*Operator, error) {
	if o.TopicPrefix == "" {
		o.TopicPrefix = "edged"
	}
	c, err := mqtt.DialTool(ctx, mqtt.ToolOptions{URL: o.URL, Username: o.Username, PasswordFile: o.PasswordFile,
		CAFile: o.CAFile, ClientPrefix: "edged-deploy-", Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return &Operator{o: o, client: c, statuses: map[string]Status{}, changed: make(chan struct{}, 1)}, nil
}

// Close disconnects.
func (op *Operator) Close() { op.client.Disconnect(250) }

func (op *Operator) wait(ctx context.Context, tok paho.Token, what string) error {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// Publish sends d to the deploy topic: the chunks first, then the
// envelope, all retained, so a box that is offline now gets them when it
// connects.
func (op *Operator) Publish(ctx context.Context, d *Deployment, topic string) error {
	for sum, parts := range d.parts {
		for i, p := range parts {
			if err := op.wait(ctx, op.client.Publish(ChunkTopic(topic, sum, i), 1, true, p), "publish chunk"); err != nil {
				return err
			}
		}
	}
	return op.wait(ctx, op.client.Publish(topic, 1, true, d.Envelope), "publish manifest")
}

// Follow subscribes to every box's status topic; Statuses reads them.
func (op *Operator) Follow(ctx context.Context) error {
	tok := op.client.Subscribe(op.o.TopicPrefix+"/+/deploy/status", 1, func(_ paho.Client, m paho.Message) {
		var s Status
		if json.Unmarshal(m.Payload(), &s) != nil || s.Device == "" {
			return
		}
		op.mu.Lock()
		op.statuses[s.Device] = s
		op.mu.Unlock()
		select {
		case op.changed <- struct{}{}:
		default:
		}
	})
	return op.wait(ctx, tok, "subscribe to the status topics")
}

// Statuses are the latest statuses by device.
func (op *Operator) Statuses() map[string]Status {
	op.mu.Lock()
	defer op.mu.Unlock()
	out := make(map[string]Status, len(op.statuses))
	for k, v := range op.statuses {
		out[k] = v
	}
	return out
}

// Changed is signalled when a status arrives.
func (op *Operator) Changed() <-chan struct{} { return op.changed }

// Members are the devices whose status says they belong to group.
func Members(st map[string]Status, group string) []string {
	var out []string
	for d, s := range st {
		for _, g := range s.Groups {
			if g == group {
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Outcome is where a box stands on one deployment.
type Outcome int

// The outcomes of a box on a deployment.
const (
	Pending Outcome = iota
	Done            // applied and healthy
	Failed          // rejected or rolled back
)

// OutcomeOf says where s stands on deployment version v.
func OutcomeOf(s Status, v uint64) Outcome {
	if s.Version != v {
		return Pending
	}
	switch s.State {
	case StateRejected, StateRolledBack:
		return Failed
	case StateApplied:
		if s.Healthy != nil && *s.Healthy {
			return Done
		}
	}
	return Pending
}

// Await waits until every device in devices is done or failed on version
// v, printing the table to w at each change. It returns the devices that
// failed.
func (op *Operator) Await(ctx context.Context, w io.Writer, devices []string, v uint64) (failed []string, err error) {
	last := ""
	for {
		st := op.Statuses()
		table := Table(st, devices, v)
		if table != last {
			fmt.Fprint(w, table)
			last = table
		}
		failed = failed[:0]
		pending := 0
		for _, d := range devices {
			switch OutcomeOf(st[d], v) {
			case Failed:
				failed = append(failed, d)
			case Pending:
				pending++
			}
		}
		if pending == 0 {
			return failed, nil
		}
		select {
		case <-ctx.Done():
			return failed, fmt.Errorf("%d of %d boxes had not finished: %w", pending, len(devices), ctx.Err())
		case <-op.changed:
		case <-time.After(time.Second):
		}
	}
}

// Table prints devices' statuses (all known, when devices is nil) as a
// table: device, state, version, time, and the reason of a failure.
func Table(st map[string]Status, devices []string, v uint64) string {
	if devices == nil {
		for d := range st {
			devices = append(devices, d)
		}
		sort.Strings(devices)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-12s %-8s %-16s %-20s %s\n", "DEVICE", "STATE", "HEALTHY", "VERSION", "TIME", "DETAIL")
	for _, d := range devices {
		s, ok := st[d]
		if !ok {
			fmt.Fprintf(&b, "%-24s %-12s\n", d, "(no status)")
			continue
		}
		state := s.State
		if v != 0 && s.Version != v && s.State != StateIdle {
			state = "waiting"
		}
		healthy := "-"
		if s.Healthy != nil {
			healthy = fmt.Sprint(*s.Healthy)
		}
		detail := s.Reason
		if s.State == StateDownloading && s.Total > 0 {
			detail = fmt.Sprintf("%d/%d bytes", s.Bytes, s.Total)
		}
		if len(detail) > 120 {
			detail = detail[:117] + "..."
		}
		fmt.Fprintf(&b, "%-24s %-12s %-8s %-16d %-20s %s\n", d, state, healthy, s.Version, s.At.Local().Format("2006-01-02 15:04:05"), detail)
	}
	return b.String()
}

// ErrCanaryFailed is returned when a canary box rejected or rolled back
// the deployment; the rest of the group never got it.
var ErrCanaryFailed = errors.New("canary failed: the rollout stopped")
