// Package inbox turns the samples a box kept (internal/samples) into a
// labelled dataset: it lists them most uncertain first, moves a sample
// into <state>/dataset/<class>/ when a person labels it, deletes it when
// they discard it, and writes the dataset as a tar for the training
// companion (`edged-train pull`).
//
// Sample ids come from HTTP requests, so they are never joined onto a
// path as given: an id is parsed into a camera, an optional region and a
// sample name, each checked against the names edged itself writes, and
// the path is rebuilt from those parts under the samples folder.
package inbox

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edged-io/edged/internal/result"
	"github.com/edged-io/edged/internal/samples"
)

// Inbox is the samples folder and the dataset folder of one box.
type Inbox struct {
	samples string // <state>/samples
	dataset string // <state>/dataset
	mu      sync.Mutex
}

// New returns the inbox over samplesDir and datasetDir.
func New(samplesDir, datasetDir string) *Inbox {
	return &Inbox{samples: samplesDir, dataset: datasetDir}
}

// Dataset is the dataset folder.
func (in *Inbox) Dataset() string { return in.dataset }

// Item is one sample waiting for a label.
type Item struct {
	ID     string         `json:"id"` // camera/name or camera/region/name
	Camera string         `json:"camera"`
	Region string         `json:"region,omitempty"`
	Time   time.Time      `json:"time"`
	Reason string         `json:"reason"`
	Model  string         `json:"model"`
	Labels []result.Label `json:"labels"`
	// Uncertainty is 1 minus the margin between the top two scores: 1
	// when the model could not tell them apart.
	Uncertainty float64 `json:"uncertainty"`
}

var (
	partRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	sampleRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]{6}$`)
	// classRE is what a class (a dataset folder) may be called: a label
	// as models carry them ("space shuttle", "tiger_cat", "Granny Smith"),
	// never a path.
	classRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.,'()+-]{0,99}$`)
)

// ErrNotFound is the error for an id that names no sample.
var ErrNotFound = errors.New("no such sample")

// A BadRequest is an id or class that is not acceptable, with why.
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

// where parses id into the sample's folder and name.
func (in *Inbox) where(id string) (dir, name string, err error) {
	parts := strings.Split(id, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return "", "", &BadRequest{fmt.Sprintf("sample id %.80q: camera/name or camera/region/name", id)}
	}
	name = parts[len(parts)-1]
	if !sampleRE.MatchString(name) {
		return "", "", &BadRequest{fmt.Sprintf("sample id %.80q: %.40q is not a sample name", id, name)}
	}
	for _, p := range parts[:len(parts)-1] {
		if !partRE.MatchString(p) {
			return "", "", &BadRequest{fmt.Sprintf("sample id %.80q: %.40q is not a camera or region name", id, p)}
		}
	}
	dir = filepath.Join(append([]string{in.samples}, parts[:len(parts)-1]...)...)
	return dir, name, nil
}

// CheckClass checks a class name.
func CheckClass(class string) error {
	if !classRE.MatchString(class) || strings.Contains(class, "..") {
		return &BadRequest{fmt.Sprintf("class %.80q: 1 to 100 letters, digits, spaces and _ . , ' ( ) + -, starting with a letter or digit", class)}
	}
	return nil
}

// List returns the samples waiting for a label, most uncertain first (at
// most max; 0: all).
func (in *Inbox) List(max int) ([]Item, error) {
	var items []Item
	err := filepath.WalkDir(in.samples, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		rel, err := filepath.Rel(in.samples, strings.TrimSuffix(p, ".json"))
		if err != nil {
			return nil
		}
		id := filepath.ToSlash(rel)
		if _, _, err := in.where(id); err != nil {
			return nil // not one of ours
		}
		if _, err := os.Stat(strings.TrimSuffix(p, ".json") + ".jpg"); err != nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		var sc samples.Sidecar
		if json.Unmarshal(data, &sc) != nil {
			return nil
		}
		it := Item{ID: id, Camera: sc.Camera, Region: sc.Region, Time: sc.Time, Reason: sc.Reason, Model: sc.Model.Name, Labels: sc.Labels}
		it.Uncertainty = 1
		if len(sc.Labels) > 0 {
			margin := float64(sc.Labels[0].Score)
			if len(sc.Labels) > 1 {
				margin -= float64(sc.Labels[1].Score)
			}
			it.Uncertainty = 1 - margin
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Uncertainty != items[j].Uncertainty {
			return items[i].Uncertainty > items[j].Uncertainty
		}
		return items[i].ID < items[j].ID
	})
	if max > 0 && len(items) > max {
		items = items[:max]
	}
	return items, nil
}

// Image is the path of the sample's JPEG.
func (in *Inbox) Image(id string) (string, error) {
	dir, name, err := in.where(id)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name+".jpg")
	if _, err := os.Stat(p); err != nil {
		return "", ErrNotFound
	}
	return p, nil
}

// Label moves the sample into the dataset as class: its JPEG goes to
// <dataset>/<class>/<name>.jpg and its sidecar, with the class, to
// <dataset>/.sidecars/<class>/<name>.json.
func (in *Inbox) Label(id, class string) (string, error) {
	if err := CheckClass(class); err != nil {
		return "", err
	}
	dir, name, err := in.where(id)
	if err != nil {
		return "", err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	src := filepath.Join(dir, name+".jpg")
	if _, err := os.Stat(src); err != nil {
		return "", ErrNotFound
	}
	cls := filepath.Join(in.dataset, class)
	side := filepath.Join(in.dataset, ".sidecars", class)
	for _, d := range []string{cls, side} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return "", fmt.Errorf("dataset: %w", err)
		}
	}
	dst := filepath.Join(cls, name+".jpg")
	if err := move(src, dst); err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, name+".json")); err == nil {
		var m map[string]any
		if json.Unmarshal(data, &m) == nil {
			m["class"] = class
			if b, err := json.Marshal(m); err == nil {
				os.WriteFile(filepath.Join(side, name+".json"), b, 0o640)
			}
		}
		os.Remove(filepath.Join(dir, name+".json"))
	}
	// The whole frame, when kept, goes beside the sidecar: the class
	// folder holds crops only.
	if _, err := os.Stat(filepath.Join(dir, name+".frame.jpg")); err == nil {
		move(filepath.Join(dir, name+".frame.jpg"), filepath.Join(side, name+".frame.jpg"))
	}
	return dst, nil
}

// Discard deletes the sample.
func (in *Inbox) Discard(id string) error {
	dir, name, err := in.where(id)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := os.Remove(filepath.Join(dir, name+".jpg")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotFound
		}
		return err
	}
	os.Remove(filepath.Join(dir, name+".json"))
	os.Remove(filepath.Join(dir, name+".frame.jpg"))
	return nil
}

// Classes are the dataset's classes with their image counts.
func (in *Inbox) Classes() (map[string]int, error) {
	out := map[string]int{}
	ents, err := os.ReadDir(in.dataset)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() || CheckClass(e.Name()) != nil {
			continue
		}
		imgs, _ := os.ReadDir(filepath.Join(in.dataset, e.Name()))
		n := 0
		for _, f := range imgs {
			if f.Type().IsRegular() && strings.HasSuffix(f.Name(), ".jpg") {
				n++
			}
		}
		out[e.Name()] = n
	}
	return out, nil
}

// WriteTar writes the dataset as a tar: <class>/<name>.jpg for each
// labelled image (an ImageFolder, as edged-train reads it).
func (in *Inbox) WriteTar(w io.Writer) error {
	classes, err := in.Classes()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(classes))
	for c := range classes {
		names = append(names, c)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, c := range names {
		ents, err := os.ReadDir(filepath.Join(in.dataset, c))
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".jpg") {
				continue
			}
			if err := addFile(tw, filepath.Join(in.dataset, c, e.Name()), c+"/"+e.Name()); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, st.Size())
	return err
}

// move renames from to to, copying when they are on different file
// systems.
func move(from, to string) error {
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, data, 0o640); err != nil {
		return err
	}
	return os.Remove(from)
}
