// Package homeassistant announces edged to Home Assistant through MQTT
// discovery: one device per edged, a sensor per region holding its state,
// optional binary sensors for a region being in a given state, and
// diagnostic sensors per camera. Availability follows edged's status topic.
// Configs are published retained, again whenever Home Assistant announces
// itself online, and the configs of regions no longer configured are
// cleared (an empty retained message) on the next start or reload.
package homeassistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/regionstate"
)

// Client is the part of the MQTT publisher the announcer uses.
type Client interface {
	Send(ctx context.Context, topic string, payload []byte, retain bool) error
	Subscribe(topic string, handle func(payload []byte))
}

// Device describes this edged to Home Assistant.
type Device struct {
	ID               publish.Identity
	Version          string
	ConfigurationURL string // "" when the HTTP endpoint is loopback-only or off
}

// Entry is one discovery config: its topic and retained payload.
type Entry struct {
	Topic   string
	Payload []byte
}

// StatsTopic is where a camera's diagnostics go (fps, inference time,
// queue depth), the diagnostic sensors' state topic.
func StatsTopic(id publish.Identity, camera string) string {
	return id.TopicPrefix + "/" + id.Device + "/" + camera + "/stats"
}

// Stats is the payload on StatsTopic.
type Stats struct {
	FPS        float64 `json:"fps"`         // inferred frames per second, over the last period
	InferMS    float64 `json:"infer_ms"`    // mean inference time of a frame
	QueueDepth int     `json:"queue_depth"` // messages waiting in the queue (the device's, shared)
}

// component is a discovery config's fields edged uses (Home Assistant's
// MQTT sensor and binary_sensor schemas).
type component struct {
	Name                   string `json:"name"`
	UniqueID               string `json:"unique_id"`
	ObjectID               string `json:"object_id"`
	StateTopic             string `json:"state_topic"`
	ValueTemplate          string `json:"value_template"`
	JSONAttributesTopic    string `json:"json_attributes_topic,omitempty"`
	JSONAttributesTemplate string `json:"json_attributes_template,omitempty"`
	AvailabilityTopic      string `json:"availability_topic"`
	PayloadAvailable       string `json:"payload_available"`
	PayloadNotAvailable    string `json:"payload_not_available"`
	PayloadOn              string `json:"payload_on,omitempty"`
	PayloadOff             string `json:"payload_off,omitempty"`
	Icon                   string `json:"icon,omitempty"`
	EntityCategory         string `json:"entity_category,omitempty"`
	UnitOfMeasurement      string `json:"unit_of_measurement,omitempty"`
	StateClass             string `json:"state_class,omitempty"`
	DeviceClass            string `json:"device_class,omitempty"`
	Device                 device `json:"device"`
	Origin                 origin `json:"origin"`
}

type device struct {
	Identifiers      []string `json:"identifiers"`
	Name             string   `json:"name"`
	Manufacturer     string   `json:"manufacturer"`
	Model            string   `json:"model"`
	SWVersion        string   `json:"sw_version,omitempty"`
	ConfigurationURL string   `json:"configuration_url,omitempty"`
}

type origin struct {
	Name      string `json:"name"`
	SWVersion string `json:"sw_version,omitempty"`
}

// objectID makes s usable in a discovery topic and an entity id: lower
// case letters, digits and '_'.
func objectID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, r := range strings.ToLower(p) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}

// Entries returns the discovery configs for cfg's regions and cameras.
func Entries(cfg *config.Config, d Device) ([]Entry, error) {
	prefix := cfg.HomeAssistant.Prefix
	id := d.ID
	node := objectID(id.Device)
	dev := device{Identifiers: []string{"edged_" + node}, Name: id.Device, Manufacturer: "edged",
		Model: "edged inference daemon", SWVersion: d.Version, ConfigurationURL: d.ConfigurationURL}
	base := func(name, oid, stateTopic string) component {
		return component{Name: name, UniqueID: "edged_" + node + "_" + oid, ObjectID: node + "_" + oid, StateTopic: stateTopic,
			AvailabilityTopic: id.StatusTopic(), PayloadAvailable: "online", PayloadNotAvailable: "offline",
			Device: dev, Origin: origin{Name: "edged", SWVersion: d.Version}}
	}
	var out []Entry
	add := func(kind, oid string, c component) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		out = append(out, Entry{Topic: prefix + "/" + kind + "/" + node + "/" + oid + "/config", Payload: b})
		return nil
	}
	for _, cam := range cfg.Cameras {
		for _, r := range cam.Regions {
			oid := objectID(cam.Name, r.Name)
			c := base(cam.Name+" "+r.Name, oid, id.StateTopic(cam.Name, r.Name))
			c.ValueTemplate = "{{ value_json.state }}"
			c.JSONAttributesTopic = c.StateTopic
			c.JSONAttributesTemplate = "{{ {'score': value_json.score, 'since': value_json.since, 'model': value_json.model.name, 'seq': value_json.seq} | tojson }}"
			c.Icon = "mdi:cctv"
			if err := add("sensor", oid, c); err != nil {
				return nil, err
			}
		}
		stats := StatsTopic(id, cam.Name)
		for _, diag := range []struct {
			key, name, unit, class string
		}{{"fps", "fps", "fps", ""}, {"infer_ms", "inference time", "ms", "duration"}, {"queue_depth", "queue depth", "", ""}} {
			oid := objectID(cam.Name, diag.key)
			c := base(cam.Name+" "+diag.name, oid, stats)
			c.ValueTemplate = "{{ value_json." + diag.key + " }}"
			c.EntityCategory, c.StateClass, c.UnitOfMeasurement, c.DeviceClass = "diagnostic", "measurement", diag.unit, diag.class
			if err := add("sensor", oid, c); err != nil {
				return nil, err
			}
		}
	}
	for _, bs := range cfg.HomeAssistant.BinarySensors {
		cam := bs.Camera
		if cam == "" {
			for _, c := range cfg.Cameras {
				if slices.ContainsFunc(c.Regions, func(r config.Region) bool { return r.Name == bs.Region }) {
					cam = c.Name
				}
			}
		}
		oid := objectID(cam, bs.Region, bs.Label)
		c := base(cam+" "+bs.Region+" "+bs.Label, oid, id.StateTopic(cam, bs.Region))
		label, _ := json.Marshal(bs.Label) // a JSON string is a Jinja string literal
		c.ValueTemplate = "{{ 'ON' if value_json.state == " + string(label) + " else 'OFF' }}"
		c.PayloadOn, c.PayloadOff = "ON", "OFF"
		if err := add("binary_sensor", oid, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Announcer publishes the discovery configs and keeps them current.
type Announcer struct {
	client  Client
	entries []Entry
	prefix  string
	file    string // the topics published last time, to clear the removed ones
	log     *slog.Logger

	mu   sync.Mutex
	kick chan struct{}
}

// NewAnnouncer prepares the announcement of entries under Home
// Assistant's prefix; file (in the state directory) remembers what was
// announced, so entries gone from the configuration are cleared.
func NewAnnouncer(client Client, prefix string, entries []Entry, file string, log *slog.Logger) *Announcer {
	if log == nil {
		log = slog.Default()
	}
	return &Announcer{client: client, entries: entries, prefix: prefix, file: file, log: log.With("component", "homeassistant"),
		kick: make(chan struct{}, 1)}
}

// Update replaces the entries (a reload); Run announces them and clears
// the ones that went away.
func (a *Announcer) Update(entries []Entry) {
	a.mu.Lock()
	a.entries = entries
	a.mu.Unlock()
	a.poke()
}

func (a *Announcer) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run announces at once, again whenever Home Assistant publishes "online"
// on <prefix>/status, and after Update, until ctx ends.
func (a *Announcer) Run(ctx context.Context) error {
	a.client.Subscribe(a.prefix+"/status", func(p []byte) {
		if strings.TrimSpace(string(p)) == "online" {
			a.poke()
		}
	})
	a.poke()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
		}
		if err := a.announce(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("announcing to Home Assistant failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(5 * time.Second):
				a.poke()
			}
		}
	}
}

// announce publishes every entry, clears the topics announced before that
// are no longer entries, and records what it announced.
func (a *Announcer) announce(ctx context.Context) error {
	a.mu.Lock()
	entries := slices.Clone(a.entries)
	a.mu.Unlock()
	var topics []string
	for _, e := range entries {
		topics = append(topics, e.Topic)
	}
	old, err := readTopics(a.file)
	if err != nil {
		a.log.Warn("the list of announced topics is unreadable: nothing old is cleared", "path", a.file, "err", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, t := range old {
		if slices.Contains(topics, t) || !strings.HasPrefix(t, a.prefix+"/") {
			continue
		}
		if err := a.client.Send(sctx, t, nil, true); err != nil {
			return fmt.Errorf("clear %s: %w", t, err)
		}
		a.log.Info("cleared a removed entity's discovery config", "topic", t)
	}
	for _, e := range entries {
		if err := a.client.Send(sctx, e.Topic, e.Payload, true); err != nil {
			return fmt.Errorf("announce %s: %w", e.Topic, err)
		}
	}
	b, _ := json.Marshal(topics)
	if err := regionstate.WriteFile(a.file, b); err != nil {
		return err
	}
	a.log.Info("announced to Home Assistant", "entities", len(entries))
	return nil
}

func readTopics(path string) ([]string, error) {
	data, err := regionstate.ReadFile(path, 4<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var topics []string
	if err := json.Unmarshal(data, &topics); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return topics, nil
}
