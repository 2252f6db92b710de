// Package samples keeps crops a camera or region saw on the device, for
// labelling and retraining: a JPEG per sample with a JSON sidecar (camera,
// region, time, why it was kept, model and top-k labels), in one folder
// per camera and region under the state directory. Each folder is bounded
// by count, bytes and age, oldest first. Writing happens on the keeper's
// own goroutine: a slow or full disk drops samples (counted), it never
// holds up inference.
package samples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-io/edged/internal/result"
)

// Reasons a sample is kept (samples.when in the configuration).
const (
	LowScore    = "low_score"    // the top score is below Limits.Below
	StateChange = "state_change" // the region's state changed on this result
	Interval    = "interval"     // once per Limits.Interval
)

// Reasons lists the values of samples.when.
var Reasons = []string{LowScore, StateChange, Interval}

// Limits bound one folder of samples.
type Limits struct {
	MaxCount int
	MaxBytes int64
	MaxAge   time.Duration // 0: no age bound
}

// Sample is one kept crop: packed BGR pixels and what edged made of them.
type Sample struct {
	Camera, Region string
	Reason         string
	Result         result.Result // Labels copied
	Pixels         []byte        // W*H*3 BGR, owned by the sample
	W, H           int
	Limits         Limits
	// FrameJPEG, when set, is the whole frame (scaled down) as a JPEG,
	// written beside the crop as <name>.frame.jpg.
	FrameJPEG []byte
}

// Sidecar is the JSON written beside each sample's JPEG.
type Sidecar struct {
	Camera string          `json:"camera"`
	Region string          `json:"region,omitempty"`
	Time   time.Time       `json:"time"`
	Reason string          `json:"reason"`
	Frame  uint64          `json:"frame"`
	Model  result.ModelRef `json:"model"`
	Labels []result.Label  `json:"labels"`
}

// Keeper writes samples under its folder.
type Keeper struct {
	dir     string
	log     *slog.Logger
	in      chan Sample
	kept    atomic.Uint64
	dropped atomic.Uint64
	mu      sync.Mutex
	seq     uint64
}

// queued is how many samples wait for the disk before new ones are dropped.
const queued = 8

// New returns a keeper writing under dir (<state_dir>/samples).
func New(dir string, log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.Default()
	}
	return &Keeper{dir: dir, log: log.With("component", "samples"), in: make(chan Sample, queued)}
}

// Dir is the keeper's folder.
func (k *Keeper) Dir() string { return k.dir }

// Offer queues s for writing, or drops it when the writer is behind; it
// never blocks.
func (k *Keeper) Offer(s Sample) bool {
	select {
	case k.in <- s:
		return true
	default:
		k.dropped.Add(1)
		return false
	}
}

// Stats are how many samples were kept and dropped.
func (k *Keeper) Stats() (kept, dropped uint64) { return k.kept.Load(), k.dropped.Load() }

// Run writes offered samples until ctx ends, then what is still queued.
func (k *Keeper) Run(ctx context.Context) error {
	for {
		select {
		case s := <-k.in:
			k.write(s)
		case <-ctx.Done():
			for {
				select {
				case s := <-k.in:
					k.write(s)
				default:
					return nil
				}
			}
		}
	}
}

// Folder is where a camera's (region "") or a region's samples go.
func (k *Keeper) Folder(camera, region string) string {
	if region == "" {
		return filepath.Join(k.dir, camera)
	}
	return filepath.Join(k.dir, camera, region)
}

func (k *Keeper) write(s Sample) {
	if err := k.save(s); err != nil {
		k.dropped.Add(1)
		k.log.Warn("sample not kept", "camera", s.Camera, "region", s.Region, "err", err)
		return
	}
	k.kept.Add(1)
}

func (k *Keeper) save(s Sample) error {
	dir := k.Folder(s.Camera, s.Region)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if len(s.Pixels) != s.W*s.H*3 || s.W <= 0 || s.H <= 0 {
		return fmt.Errorf("crop of %d bytes is not %dx%dx3", len(s.Pixels), s.W, s.H)
	}
	img := image.NewRGBA(image.Rect(0, 0, s.W, s.H))
	for i, j := 0, 0; i < len(s.Pixels); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = s.Pixels[i+2], s.Pixels[i+1], s.Pixels[i], 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return err
	}
	k.mu.Lock()
	k.seq++
	seq := k.seq
	k.mu.Unlock()
	t := s.Result.Captured.UTC()
	name := fmt.Sprintf("%s-%06d", t.Format("20060102T150405.000000000Z"), seq%1000000)
	side, err := json.Marshal(Sidecar{Camera: s.Camera, Region: s.Region, Time: t, Reason: s.Reason, Frame: s.Result.Frame,
		Model: s.Result.Model, Labels: s.Result.Labels})
	if err != nil {
		return err
	}
	// The sidecar first: a JPEG without one is never listed.
	if err := os.WriteFile(filepath.Join(dir, name+".json"), side, 0o640); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".jpg"), buf.Bytes(), 0o640); err != nil {
		os.Remove(filepath.Join(dir, name+".json"))
		return err
	}
	if s.FrameJPEG != nil {
		if err := os.WriteFile(filepath.Join(dir, name+".frame.jpg"), s.FrameJPEG, 0o640); err != nil {
			k.log.Warn("sample's frame not kept", "camera", s.Camera, "err", err)
		}
	}
	return prune(dir, s.Limits, time.Now())
}

// entry is one sample on disk.
type entry struct {
	name  string // without extension
	bytes int64
	mod   time.Time
}

// List returns the samples of a folder, oldest first (names sort by time).
func List(dir string) ([]string, error) {
	es, err := list(dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out, nil
}

func list(dir string) ([]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, d := range des {
		name, ok := strings.CutSuffix(d.Name(), ".jpg")
		if !ok || !d.Type().IsRegular() {
			continue
		}
		fi, err := d.Info()
		if err != nil {
			continue
		}
		size := fi.Size()
		if si, err := os.Stat(filepath.Join(dir, name+".json")); err == nil {
			size += si.Size()
		} else {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, name+".frame.jpg")); err == nil {
			size += fi.Size()
		}
		out = append(out, entry{name: name, bytes: size, mod: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// prune removes the oldest samples of dir until it holds at most the
// limits' count and bytes, and none older than MaxAge.
func prune(dir string, l Limits, now time.Time) error {
	es, err := list(dir)
	if err != nil {
		return err
	}
	var total int64
	for _, e := range es {
		total += e.bytes
	}
	for len(es) > 0 {
		e := es[0]
		tooMany := l.MaxCount > 0 && len(es) > l.MaxCount
		tooBig := l.MaxBytes > 0 && total > l.MaxBytes
		tooOld := l.MaxAge > 0 && now.Sub(e.mod) > l.MaxAge
		if !tooMany && !tooBig && !tooOld {
			break
		}
		os.Remove(filepath.Join(dir, e.name+".jpg"))
		os.Remove(filepath.Join(dir, e.name+".json"))
		os.Remove(filepath.Join(dir, e.name+".frame.jpg"))
		total -= e.bytes
		es = es[1:]
	}
	return nil
}
