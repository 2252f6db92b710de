// Package watch is the subscriber's view of edged boxes on a broker
// (`edged watch`): the latest result and region states of every camera as
// a table, and the results lost or delivered twice, found from each
// payload's boot and seq (docs/payload.md), reported as they happen.
package watch

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event is a loss, a duplicate or a restart found in a camera's results.
type Event struct {
	At     time.Time
	Device string
	Camera string
	Kind   string // "lost", "duplicate", "restart"
	Count  uint64 // results lost, or 1
	Detail string
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s/%s: %s", e.At.Format("15:04:05"), e.Device, e.Camera, e.Detail)
}

// camera is what the watcher knows of one camera.
type camera struct {
	device, name string
	boot         string
	seq          uint64
	results      uint64
	lost, dups   uint64
	label        string
	score        float64
	region       string
	latency      float64
	last         time.Time
	times        []time.Time // arrival times of the last results, for the rate
	states       map[string]string
}

// Watcher folds messages into per-camera figures.
type Watcher struct {
	prefix string
	now    func() time.Time

	mu      sync.Mutex
	cams    map[string]*camera // device/camera
	online  map[string]string  // device → online/offline
	events  []Event
	onEvent func(Event)
}

// New returns a watcher for topics under prefix; onEvent (when set) is
// called for each loss, duplicate and restart.
func New(prefix string, onEvent func(Event)) *Watcher {
	return &Watcher{prefix: prefix, now: time.Now, cams: map[string]*camera{}, online: map[string]string{}, onEvent: onEvent}
}

// Filters are the topic filters the watcher needs, for one device or all
// ("").
func (w *Watcher) Filters(device string) []string {
	d := device
	if d == "" {
		d = "+"
	}
	return []string{w.prefix + "/" + d + "/+/result", w.prefix + "/" + d + "/+/+/state", w.prefix + "/" + d + "/status"}
}

type resultPayload struct {
	Device string `json:"device"`
	Camera string `json:"camera"`
	Region string `json:"region"`
	Boot   string `json:"boot"`
	Seq    uint64 `json:"seq"`
	Labels []struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
	} `json:"labels"`
	Latency struct {
		Total float64 `json:"total"`
	} `json:"latency_ms"`
}

type statePayload struct {
	Device string  `json:"device"`
	Camera string  `json:"camera"`
	Region string  `json:"region"`
	State  string  `json:"state"`
	Score  float64 `json:"score"`
}

// Handle takes one message.
func (w *Watcher) Handle(topic string, payload []byte) {
	rest, ok := strings.CutPrefix(topic, w.prefix+"/")
	if !ok {
		return
	}
	parts := strings.Split(rest, "/")
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case len(parts) == 2 && parts[1] == "status":
		w.online[parts[0]] = string(payload)
	case len(parts) == 3 && parts[2] == "result":
		var p resultPayload
		if json.Unmarshal(payload, &p) != nil || p.Boot == "" || p.Seq == 0 {
			return
		}
		c := w.cam(parts[0], parts[1])
		w.sequence(c, p.Boot, p.Seq, now)
		c.results++
		c.last = now
		c.times = append(c.times, now)
		if len(c.times) > 20 {
			c.times = c.times[len(c.times)-20:]
		}
		c.region, c.latency = p.Region, p.Latency.Total
		if len(p.Labels) > 0 {
			c.label, c.score = p.Labels[0].Label, p.Labels[0].Score
		}
	case len(parts) == 4 && parts[3] == "state":
		var p statePayload
		if json.Unmarshal(payload, &p) != nil {
			return
		}
		c := w.cam(parts[0], parts[1])
		c.states[parts[2]] = p.State
	}
}

func (w *Watcher) cam(device, name string) *camera {
	k := device + "/" + name
	c := w.cams[k]
	if c == nil {
		c = &camera{device: device, name: name, states: map[string]string{}}
		w.cams[k] = c
	}
	return c
}

// sequence checks seq against what came before in the same boot.
func (w *Watcher) sequence(c *camera, boot string, seq uint64, now time.Time) {
	var ev *Event
	switch {
	case c.boot == "":
	case boot != c.boot:
		ev = &Event{Kind: "restart", Count: 1, Detail: fmt.Sprintf("restarted (boot %s → %s), results from seq %d", short(c.boot), short(boot), seq)}
	case seq == c.seq+1:
	case seq > c.seq+1:
		n := seq - c.seq - 1
		c.lost += n
		ev = &Event{Kind: "lost", Count: n, Detail: fmt.Sprintf("%d results lost (seq %d to %d) in boot %s", n, c.seq+1, seq-1, short(boot))}
	default:
		c.dups++
		ev = &Event{Kind: "duplicate", Count: 1, Detail: fmt.Sprintf("duplicate of seq %d (last was %d) in boot %s", seq, c.seq, short(boot))}
	}
	if ev != nil {
		ev.At, ev.Device, ev.Camera = now, c.device, c.name
		w.events = append(w.events, *ev)
		if len(w.events) > 1000 {
			w.events = w.events[len(w.events)-1000:]
		}
		if w.onEvent != nil {
			w.onEvent(*ev)
		}
	}
	if ev == nil || ev.Kind != "duplicate" {
		c.boot, c.seq = boot, seq
	}
}

func short(boot string) string {
	if len(boot) > 8 {
		return boot[:8]
	}
	return boot
}

// SetOnline sets what the table shows in a device's broker column (a
// device's status topic sets it too).
func (w *Watcher) SetOnline(device, state string) {
	w.mu.Lock()
	w.online[device] = state
	w.mu.Unlock()
}

// Events are the losses, duplicates and restarts seen so far (the last
// thousand).
func (w *Watcher) Events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Event(nil), w.events...)
}

// Table writes the cameras as a table: device, camera, top label and
// score (or the regions' states), results per second, latency, results,
// lost, duplicates, and how long since the last result.
func (w *Watcher) Table(out io.Writer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	keys := make([]string, 0, len(w.cams))
	for k := range w.cams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(out, "%-16s %-12s %-8s %-34s %6s %8s %8s %6s %5s %6s\n",
		"DEVICE", "CAMERA", "BROKER", "TOP (OR STATES)", "RATE/s", "LAT ms", "RESULTS", "LOST", "DUPS", "AGE s")
	for _, k := range keys {
		c := w.cams[k]
		top := fmt.Sprintf("%s %.2f", c.label, c.score)
		if len(c.states) > 0 {
			var s []string
			for r, st := range c.states {
				s = append(s, r+"="+st)
			}
			sort.Strings(s)
			top = strings.Join(s, " ")
		}
		if len(top) > 34 {
			top = top[:31] + "..."
		}
		rate := 0.0
		if n := len(c.times); n > 1 {
			if d := c.times[n-1].Sub(c.times[0]).Seconds(); d > 0 {
				rate = float64(n-1) / d
			}
		}
		online := w.online[c.device]
		if online == "" {
			online = "?"
		}
		fmt.Fprintf(out, "%-16s %-12s %-8s %-34s %6.2f %8.1f %8d %6d %5d %6.1f\n", c.device, c.name, online, top, rate,
			c.latency, c.results, c.lost, c.dups, now.Sub(c.last).Seconds())
	}
}
