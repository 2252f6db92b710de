// Package modelfile reads TensorFlow Lite model files without the runtime:
// it checks that a file is a well-formed TFLite flatbuffer (every offset it
// follows is bounds-checked) before the file reaches the C library, and
// describes the model for `edged model inspect`, including the labels that
// TFLite metadata carries.
package modelfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Tensor describes one input or output tensor.
type Tensor struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Shape     []int     `json:"shape"`
	Scale     []float32 `json:"scale,omitempty"`
	ZeroPoint []int64   `json:"zero_point,omitempty"`
	PerAxis   bool      `json:"per_axis,omitempty"`
	Sparse    bool      `json:"sparse,omitempty"`
}

// Info describes a model file.
type Info struct {
	Size        int            `json:"size"`
	Version     uint32         `json:"schema_version"`
	Description string         `json:"description,omitempty"`
	Subgraphs   int            `json:"subgraphs"`
	Tensors     int            `json:"tensors"`
	Buffers     int            `json:"buffers"`
	Inputs      []Tensor       `json:"inputs"`
	Outputs     []Tensor       `json:"outputs"`
	Ops         map[string]int `json:"ops"`
	CustomOps   []string       `json:"custom_ops,omitempty"`
	Float16     bool           `json:"float16_tensors,omitempty"`
	Sparse      bool           `json:"sparse_tensors,omitempty"`
	Metadata    []string       `json:"metadata,omitempty"`
	ModelName   string         `json:"model_name,omitempty"`
	Labels      []string       `json:"labels,omitempty"`
	LabelsFile  string         `json:"labels_file,omitempty"`
}

// ErrNotTFLite is wrapped by errors for files that are not TFLite models.
var ErrNotTFLite = errors.New("not a TFLite model")

// MaxFileSize bounds a model file: far above edge models (the default is
// 5 MB), and `edged model inspect /dev/zero` must be an error, not an
// endless read.
const MaxFileSize = 1 << 30

// Read reads a model file of at most MaxFileSize bytes; only regular files
// are read (a FIFO or device could block or never end).
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	} else if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a model may have", path, fi.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: more than the %d bytes a model may have", path, MaxFileSize)
	}
	return data, nil
}

// ReadFile reads and parses the model at path. Errors name the file.
func ReadFile(path string) (*Info, []byte, error) {
	data, err := Read(path)
	if err != nil {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	info, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", path, err)
	}
	return info, data, nil
}

// Limits on what a model may claim, far above real models, so that a
// hostile file cannot make the checker allocate without bound.
const (
	maxSubgraphs = 10000
	maxDims      = 16
)

// Parse checks data as a TFLite flatbuffer and describes it.
func Parse(data []byte) (info *Info, err error) {
	defer func() {
		// Every read is bounds-checked; this is the last line of defence
		// that keeps a checker bug from taking the daemon down.
		if r := recover(); r != nil {
			info, err = nil, fmt.Errorf("%w: malformed flatbuffer (%v)", ErrNotTFLite, r)
		}
	}()
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrNotTFLite, len(data))
	}
	if string(data[4:8]) != "TFL3" {
		return nil, fmt.Errorf("%w: file identifier is %q, want \"TFL3\"", ErrNotTFLite, data[4:8])
	}
	b := &buf{b: data}
	model := b.root(0)
	if b.err != nil {
		return nil, fmt.Errorf("%w: root table: %v", ErrNotTFLite, b.err)
	}
	info = &Info{Size: len(data), Ops: map[string]int{}}
	info.Version = b.fieldU32(model, 0, 0)
	if info.Version != 3 {
		b.fail("schema version %d, want 3", info.Version)
	}
	info.Description = b.fieldString(model, 3)

	// Operator codes (field 1).
	codes := b.tables(model, 1)
	opNames := make([]string, len(codes))
	for i, c := range codes {
		custom := b.fieldString(c, 1)
		code := int32(b.fieldU32(c, 3, 0))
		if dep := int32(int8(b.fieldU8(c, 0, 0))); dep > code {
			code = dep // files older than the 2.3 schema only set the byte code
		}
		if code == customCode {
			if custom == "" {
				b.fail("operator code %d is CUSTOM without a name", i)
			}
			opNames[i] = custom
			info.CustomOps = append(info.CustomOps, custom)
		} else {
			opNames[i] = builtinName(code)
		}
	}

	// Buffers (field 4): count them, and keep the data for metadata.
	buffers := b.tables(model, 4)
	info.Buffers = len(buffers)
	for _, bt := range buffers {
		b.bufferData(bt) // checks the bounds of inline and external data
	}

	// Subgraphs (field 2).
	subgraphs := b.tables(model, 2)
	if b.err == nil && len(subgraphs) == 0 {
		b.fail("no subgraphs")
	}
	if len(subgraphs) > maxSubgraphs {
		b.fail("%d subgraphs", len(subgraphs))
	}
	info.Subgraphs = len(subgraphs)
	for si, sg := range subgraphs {
		tensors := b.tables(sg, 0)
		info.Tensors += len(tensors)
		for ti, t := range tensors {
			typ := b.fieldU8(t, 1, 0)
			if typ == typeFloat16 {
				info.Float16 = true
			}
			if b.field(t, 6) >= 0 {
				info.Sparse = true
			}
			// The runtime reads every tensor's shape, name and quantization:
			// check their bounds too, not only those of the inputs and outputs.
			if nd := len(b.int32s(t, 0)); nd > maxDims {
				b.fail("subgraph %d tensor %d has %d dimensions, more than %d", si, ti, nd, maxDims)
			}
			b.fieldString(t, 3)
			if q := b.fieldTable(t, 4); q.ok {
				b.float32s(q, 2)
				b.int64s(q, 3)
			}
			if buf := b.index(t, 2); (buf < 0 || buf >= len(buffers)) && b.err == nil {
				b.fail("subgraph %d tensor %d uses buffer %d of %d", si, ti, b.fieldU32(t, 2, 0), len(buffers))
			}
		}
		for oi, op := range b.tables(sg, 3) {
			idx := b.index(op, 0)
			if idx < 0 || idx >= len(opNames) {
				b.fail("subgraph %d operator %d uses operator code %d of %d", si, oi, b.fieldU32(op, 0, 0), len(opNames))
				break
			}
			for _, ref := range append(b.int32s(op, 1), b.int32s(op, 2)...) {
				if ref < -1 || ref >= len(tensors) {
					b.fail("subgraph %d operator %d refers to tensor %d of %d", si, oi, ref, len(tensors))
				}
			}
			info.Ops[opNames[idx]]++
		}
		if si == 0 {
			info.Inputs = b.ioTensors(sg, 1, tensors)
			info.Outputs = b.ioTensors(sg, 2, tensors)
		}
		if b.err != nil {
			break
		}
	}
	sort.Strings(info.CustomOps)

	// Metadata (field 6): names, and TFLite metadata with labels.
	for _, md := range b.tables(model, 6) {
		name := b.fieldString(md, 0)
		info.Metadata = append(info.Metadata, name)
		bi := b.index(md, 1)
		if bi < 0 || bi >= len(buffers) {
			b.fail("metadata %q uses buffer %d of %d", name, b.fieldU32(md, 1, 0), len(buffers))
			break
		}
		if name == "TFLITE_METADATA" && b.err == nil {
			raw := b.bufferData(buffers[bi])
			if b.err == nil && raw != nil {
				info.ModelName, info.LabelsFile = readMetadata(raw)
			}
		}
	}
	if b.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotTFLite, b.err)
	}
	if len(info.Inputs) == 0 || len(info.Outputs) == 0 {
		return nil, fmt.Errorf("%w: subgraph 0 has %d inputs and %d outputs", ErrNotTFLite, len(info.Inputs), len(info.Outputs))
	}
	if info.LabelsFile != "" {
		// The metadata promises labels in the zip archive appended to the
		// flatbuffer: a file cut short or damaged loses that archive, and
		// a model that silently lost its labels would publish numbers.
		if info.Labels, err = readZipLabels(data, info.LabelsFile); err != nil {
			return nil, fmt.Errorf("%w: the metadata names the labels file %q, but %v (the file is truncated or damaged)",
				ErrNotTFLite, info.LabelsFile, err)
		}
	}
	return info, nil
}

// ioTensors describes the tensors listed by index in field i of subgraph sg.
func (b *buf) ioTensors(sg table, i int, tensors []table) []Tensor {
	var out []Tensor
	for _, idx := range b.int32s(sg, i) {
		if idx < 0 || idx >= len(tensors) {
			b.fail("subgraph input/output tensor %d of %d", idx, len(tensors))
			return nil
		}
		t := tensors[idx]
		d := Tensor{Name: b.fieldString(t, 3), Type: typeName(b.fieldU8(t, 1, 0)), Shape: b.int32s(t, 0), Sparse: b.field(t, 6) >= 0}
		if len(d.Shape) > maxDims {
			b.fail("tensor %q has %d dimensions", d.Name, len(d.Shape))
			return nil
		}
		if q := b.fieldTable(t, 4); q.ok {
			d.Scale = b.float32s(q, 2)
			d.ZeroPoint = b.int64s(q, 3)
			d.PerAxis = len(d.Scale) > 1
		}
		out = append(out, d)
	}
	return out
}

// bufferData returns a buffer's bytes, inline (field 0) or, in files larger
// than 2 GiB's flatbuffer limit, at an offset from the file start (fields 1, 2).
func (b *buf) bufferData(t table) []byte {
	if d := b.fieldBytes(t, 0); d != nil {
		return d
	}
	off, size := b.fieldU64(t, 1, 0), b.fieldU64(t, 2, 0)
	if off <= 1 || size == 0 {
		return nil
	}
	if off > uint64(len(b.b)) || size > uint64(len(b.b))-off {
		b.fail("buffer at offset %d with %d bytes is outside the file", off, size)
		return nil
	}
	return b.b[off : off+size]
}

// readMetadata reads a TFLite ModelMetadata flatbuffer (metadata_schema.fbs)
// and returns the model's name and the name of the first associated file of
// type TENSOR_AXIS_LABELS on an output tensor (or on the model). A malformed
// metadata buffer is ignored: labels are optional.
func readMetadata(raw []byte) (name, labels string) {
	if len(raw) < 8 || string(raw[4:8]) != "M001" {
		return "", "" // not a ModelMetadata flatbuffer
	}
	m := &buf{b: raw}
	root := m.root(0)
	if m.err != nil {
		return "", ""
	}
	name = m.fieldString(root, 0)
	find := func(t table, field int) string {
		for _, f := range m.tables(t, field) {
			if m.fieldU8(f, 2, 0) == axisLabels {
				return m.fieldString(f, 0)
			}
		}
		return ""
	}
	for _, sg := range m.tables(root, 3) {
		for _, tm := range m.tables(sg, 3) { // output_tensor_metadata
			if l := find(tm, 6); l != "" && m.err == nil {
				return name, l
			}
		}
	}
	if l := find(root, 6); l != "" && m.err == nil {
		return name, l
	}
	return name, ""
}

// readZipLabels reads the named file from the zip archive TFLite metadata
// appends to a model, one label per line.
func readZipLabels(data []byte, file string) ([]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("the appended zip archive cannot be read: %v", err)
	}
	for _, f := range zr.File {
		if f.Name != file {
			continue
		}
		if f.UncompressedSize64 > 16<<20 {
			return nil, fmt.Errorf("%s holds %d bytes, more than 16 MiB", file, f.UncompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s in the zip archive: %v", file, err)
		}
		body, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s in the zip archive: %v", file, err)
		}
		lines := strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
		for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
			lines = lines[:len(lines)-1]
		}
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		return lines, nil
	}
	return nil, fmt.Errorf("the zip archive has no %s", file)
}

const (
	customCode  = 32 // BuiltinOperator CUSTOM
	typeFloat16 = 1  // TensorType FLOAT16
	axisLabels  = 2  // AssociatedFileType TENSOR_AXIS_LABELS
)
