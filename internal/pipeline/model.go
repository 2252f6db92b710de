package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/modelfile"
	"github.com/edged-io/edged/internal/preprocess"
	"github.com/edged-io/edged/internal/result"
)

// ModelSpec says which model file to load and how to feed and read it.
type ModelSpec struct {
	Name       string
	Path       string
	LabelsPath string // empty: labels from the model's metadata, else index numbers
	Options    infer.Options
	Post       infer.PostConfig // Labels is filled in by LoadModel
	Norm       preprocess.Norm
	BGR        bool
	Output     string // the class-score output's name or index; "" when the model has one output
	// Pool is how many sessions the cameras running the model share (see
	// infer.PoolSize); 0 gives each camera (each region group) its own.
	Pool int
}

// Model is a loaded model shared by the cameras that use it.
type Model struct {
	Name   string
	Path   string
	Ref    result.ModelRef
	Info   *modelfile.Info
	Labels []string
	Post   infer.PostConfig
	Norm   preprocess.Norm
	BGR    bool
	Out    int // index of the class-score output

	l    *infer.Loaded // shared with every Model on the same bytes and options
	pool *sessionPool  // nil: a session per camera
}

// LoadModel loads a model through reg (the file is read once; a file
// already loaded with the same options is shared), reads its labels and
// checks that they match its score output.
func LoadModel(reg *infer.Registry, spec ModelSpec) (*Model, error) {
	l, err := reg.Load(spec.Path, spec.Options)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", spec.Name, err)
	}
	m, err := newModel(l, spec)
	if err != nil {
		l.Release()
		return nil, err
	}
	return m, nil
}

func newModel(l *infer.Loaded, spec ModelSpec) (*Model, error) {
	labels, out, err := checkModel(l.Info, spec)
	if err != nil {
		return nil, err
	}
	if spec.Pool < 0 || spec.Pool > infer.MaxPool {
		return nil, fmt.Errorf("model %q: pool of %d sessions is not between 0 and %d", spec.Name, spec.Pool, infer.MaxPool)
	}
	post := spec.Post
	post.Labels = labels
	m := &Model{
		Name: spec.Name, Path: spec.Path, Info: l.Info, Labels: labels, Post: post,
		Norm: spec.Norm, BGR: spec.BGR, Out: out, l: l,
		Ref: result.ModelRef{Name: spec.Name, SHA256: l.SHA256[:12]},
	}
	if spec.Pool > 0 {
		m.pool = newSessionPool(m, spec.Pool)
	}
	return m, nil
}

// CheckModel runs LoadModel's checks on spec without a runtime: the file
// is read and checked, its labels read and matched against its score
// output (edged check-config).
func CheckModel(spec ModelSpec) error {
	info, _, err := modelfile.ReadFile(spec.Path)
	if err != nil {
		return fmt.Errorf("model %q: %w", spec.Name, err)
	}
	_, _, err = checkModel(info, spec)
	return err
}

// checkModel returns a checked model's labels and the index of its score
// output.
func checkModel(info *modelfile.Info, spec ModelSpec) (labels []string, out int, err error) {
	labels = info.Labels
	if spec.LabelsPath != "" {
		if labels, err = ReadLabels(spec.LabelsPath); err != nil {
			return nil, 0, fmt.Errorf("model %q: %w", spec.Name, err)
		}
	}
	if len(info.Inputs) != 1 {
		return nil, 0, fmt.Errorf("model %q: %s has %d inputs, want one image input", spec.Name, spec.Path, len(info.Inputs))
	}
	if len(info.Outputs) < 1 {
		return nil, 0, fmt.Errorf("model %q: %s has no outputs", spec.Name, spec.Path)
	}
	if in := info.Inputs[0]; len(in.Shape) != 4 || in.Shape[3] != 3 {
		return nil, 0, fmt.Errorf("model %q: %s input %q has shape %v, want [1,H,W,3]", spec.Name, spec.Path, in.Name, in.Shape)
	}
	if out, err = scoreOutput(info.Outputs, spec); err != nil {
		return nil, 0, err
	}
	if n := elements(info.Outputs[out].Shape); len(labels) > 0 && len(labels) != n {
		src := spec.LabelsPath
		if src == "" {
			src = "the model's metadata"
		}
		return nil, 0, fmt.Errorf("model %q: %s has %d labels but the model scores %d classes", spec.Name, src, len(labels), n)
	}
	return labels, out, nil
}

// scoreOutput picks the output holding the class scores: the one named by
// spec.Output (name or index), or the model's only output. A model with
// several outputs (a detector, a landmark model) is not taken for a
// classifier without being told which output to read.
func scoreOutput(outs []modelfile.Tensor, spec ModelSpec) (int, error) {
	names := make([]string, len(outs))
	for i, t := range outs {
		names[i] = fmt.Sprintf("%d %q %v", i, t.Name, t.Shape)
	}
	if spec.Output == "" {
		if len(outs) != 1 {
			return 0, fmt.Errorf("model %q: %s has %d outputs (%s), so it does not look like a classifier: set models[].output to the name or index of its class scores",
				spec.Name, spec.Path, len(outs), strings.Join(names, ", "))
		}
		return 0, nil
	}
	for i, t := range outs {
		if t.Name == spec.Output || strconv.Itoa(i) == spec.Output {
			return i, nil
		}
	}
	return 0, fmt.Errorf("model %q: output %q: %s has no output of that name or index (it has %s)",
		spec.Name, spec.Output, spec.Path, strings.Join(names, ", "))
}

// Same reports whether m and o run the same model file content with the
// same options, labels and pre- and post-processing: a reload that loads
// o where m runs changes nothing.
func (m *Model) Same(o *Model) bool {
	return m.l == o.l && m.PoolSize() == o.PoolSize() && m.Name == o.Name && m.Path == o.Path && m.BGR == o.BGR && m.Norm == o.Norm && m.Out == o.Out &&
		slices.Equal(m.Labels, o.Labels) && reflect.DeepEqual(m.Post, o.Post)
}

// SHA256 is the hex sha256 of the model file's bytes.
func (m *Model) SHA256() string { return m.l.SHA256 }

// PoolSize is the number of sessions the model's cameras share; 0 when
// each camera has its own.
func (m *Model) PoolSize() int {
	if m.pool == nil {
		return 0
	}
	return m.pool.size
}

// PoolOpen is how many of the pool's sessions are open (they open as
// cameras need them); 0 without a pool.
func (m *Model) PoolOpen() int {
	if m.pool == nil {
		return 0
	}
	return m.pool.opened()
}

// Close closes the model's shared sessions and releases the model; close
// it after every pipeline using it.
func (m *Model) Close() error {
	var err error
	if m.pool != nil {
		err = m.pool.close()
	}
	return errors.Join(err, m.l.Release())
}

// ReadLabels reads a labels file: one label per line, blank trailing lines
// ignored.
func ReadLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	labels, err := parseLabels(f)
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	return labels, nil
}

// Bounds on a labels file: far above real ones (ImageNet's is 10 KB).
const (
	MaxLabelsBytes = 16 << 20 // the whole file
	MaxLabelLen    = 4096     // one line
)

func parseLabels(r io.Reader) ([]string, error) {
	var labels []string
	sc := bufio.NewScanner(io.LimitReader(r, MaxLabelsBytes+1))
	sc.Buffer(make([]byte, 0, 4096), MaxLabelLen+2)
	read := 0
	for sc.Scan() {
		read += len(sc.Bytes()) + 1
		line := sc.Text()
		if len(labels) == 0 {
			line = strings.TrimPrefix(line, "\ufeff") // a UTF-8 byte-order mark
		}
		labels = append(labels, strings.TrimSpace(strings.TrimSuffix(line, "\r")))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d is longer than %d bytes", len(labels)+1, MaxLabelLen)
		}
		return nil, err
	}
	if read > MaxLabelsBytes {
		return nil, fmt.Errorf("larger than %d bytes: not a labels file", MaxLabelsBytes)
	}
	for len(labels) > 0 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1]
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("no labels")
	}
	for i, l := range labels {
		if l == "" {
			return nil, fmt.Errorf("line %d is blank: every class needs a name (results would carry an empty label)", i+1)
		}
	}
	return labels, nil
}

func elements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
