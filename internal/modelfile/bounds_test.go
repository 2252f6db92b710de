package modelfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Field numbers of schema.fbs used to build test models.
// Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4, metadata 6.
// OperatorCode: deprecated_builtin_code 0, custom_code 1, version 2, builtin_code 3.
// SubGraph: tensors 0, inputs 1, outputs 2, operators 3.
// Tensor: shape 0, type 1, buffer 2, name 3, quantization 4, sparsity 6.
// Operator: opcode_index 0, inputs 1, outputs 2.
// Buffer: data 0, offset 1, size 2. Metadata: name 0, buffer 1.

// miniModel describes a two-tensor model: out = ADD(in, in). Tests change
// parts of it before building.
type miniModel struct {
	version   uint32
	opCode    *tbl
	tensors   []*tbl
	inputs    []int32
	outputs   []int32
	operators []*tbl
	buffers   []*tbl
	metadata  []*tbl
	subgraphs func(sg *tbl) []*tbl // replaces the one subgraph when set
}

func newMini() *miniModel {
	quant := tb(nil, nil, []float32{0.5}, []int64{-3})
	return &miniModel{
		version: 3,
		opCode:  tb(uint8(0), nil, int32(1), int32(0)), // ADD
		tensors: []*tbl{
			tb([]int32{1, 4}, uint8(9), uint32(0), "in", quant), // int8
			tb([]int32{1, 4}, uint8(0), uint32(0), "out"),       // float32
		},
		inputs:    []int32{0},
		outputs:   []int32{1},
		operators: []*tbl{tb(uint32(0), []int32{0, 0}, []int32{1})},
		buffers:   []*tbl{tb()},
	}
}

func (m *miniModel) bytes() []byte {
	sg := tb(m.tensors, m.inputs, m.outputs, m.operators, "main")
	subgraphs := []*tbl{sg}
	if m.subgraphs != nil {
		subgraphs = m.subgraphs(sg)
	}
	var md any
	if m.metadata != nil {
		md = m.metadata
	}
	return build("TFL3", tb(m.version, []*tbl{m.opCode}, subgraphs, "mini", m.buffers, nil, md))
}

func TestMiniModel(t *testing.T) {
	data := newMini().bytes()
	info, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	in := info.Inputs[0]
	if in.Name != "in" || in.Type != "int8" || len(in.Shape) != 2 || in.Shape[1] != 4 ||
		len(in.Scale) != 1 || in.Scale[0] != 0.5 || in.ZeroPoint[0] != -3 || in.PerAxis {
		t.Errorf("input %+v", in)
	}
	if out := info.Outputs[0]; out.Name != "out" || out.Type != "float32" || out.Scale != nil {
		t.Errorf("output %+v", out)
	}
	if info.Description != "mini" || info.Subgraphs != 1 || info.Tensors != 2 || info.Buffers != 1 || info.Ops["ADD"] != 1 {
		t.Errorf("info %+v", info)
	}
	// Every prefix is rejected, without a panic.
	for n := 0; n < len(data); n++ {
		if _, err := Parse(data[:n]); err == nil {
			t.Fatalf("%d-byte prefix of %d accepted", n, len(data))
		} else if strings.Contains(err.Error(), "malformed flatbuffer (") {
			t.Fatalf("%d-byte prefix panicked: %v", n, err)
		}
	}
	// Every 32-bit word overwritten with hostile values: errors, never a panic.
	for pos := 0; pos+4 <= len(data); pos++ {
		for _, v := range []uint32{0, 1, 3, 0x7fffffff, 0x80000000, 0xfffffffc, uint32(len(data)), uint32(len(data) - pos)} {
			c := bytes.Clone(data)
			c[pos], c[pos+1], c[pos+2], c[pos+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
			if _, err := Parse(c); err != nil && strings.Contains(err.Error(), "malformed flatbuffer (") {
				t.Fatalf("word at %d set to %#x panicked: %v", pos, v, err)
			}
		}
	}
}

// TestBoundsChecks builds models that break one rule each; every one must
// be rejected with an error that says what is wrong.
func TestBoundsChecks(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	cases := []struct {
		name   string
		change func(m *miniModel)
		want   string
	}{
		{"schema version", func(m *miniModel) { m.version = 2 }, "schema version 2"},
		{"vector length past the end", func(m *miniModel) { m.tensors[0].fields[0] = badVector(1 << 30) }, "claims 1073741824 elements"},
		{"string length past the end", func(m *miniModel) { m.tensors[0].fields[3] = badVector(0x7ffffff0) }, "claims"},
		{"offset past the end", func(m *miniModel) { m.tensors[1].fields[0] = rawOffset(1 << 20) }, "outside the"},
		{"offset wraps around", func(m *miniModel) { m.tensors[1].fields[3] = rawOffset(0xfffffff8) }, "outside the"},
		{"vtable outside the file", func(m *miniModel) { m.operators[0].soffset = i32(-1 << 24) }, "outside the"},
		{"vtable too short", func(m *miniModel) { m.operators[0].vtLen = u16(2) }, "malformed vtable"},
		{"vtable odd size", func(m *miniModel) { m.operators[0].vtLen = u16(7) }, "malformed vtable"},
		{"vtable longer than the file", func(m *miniModel) { m.operators[0].vtLen = u16(0xfffe) }, "outside the"},
		{"shape of an inner tensor", func(m *miniModel) {
			m.tensors = append(m.tensors, tb(badVector(1<<28), uint8(0), uint32(0), "inner"))
		}, "claims 268435456 elements"},
		{"name of an inner tensor", func(m *miniModel) {
			m.tensors = append(m.tensors, tb([]int32{1}, uint8(0), uint32(0), rawOffset(1<<30)))
		}, "outside the"},
		{"tensor buffer index", func(m *miniModel) { m.tensors[1].fields[2] = uint32(7) }, "uses buffer 7 of 1"},
		{"operator code index", func(m *miniModel) { m.operators[0].fields[0] = uint32(4) }, "operator code 4 of 1"},
		// Indexes and offsets with the top bit set turn negative in a 32-bit
		// int (GOARCH=386 or arm): they must still be caught.
		{"operator code index, 32-bit negative", func(m *miniModel) { m.operators[0].fields[0] = uint32(0x80000000) }, "operator code 2147483648 of 1"},
		{"tensor buffer index, 32-bit negative", func(m *miniModel) { m.tensors[1].fields[2] = uint32(0xffffffff) }, "uses buffer 4294967295 of 1"},
		{"metadata buffer index, 32-bit negative", func(m *miniModel) { m.metadata = []*tbl{tb("x", uint32(0x80000001))} }, "uses buffer 2147483649 of 1"},
		{"offset, 32-bit negative", func(m *miniModel) { m.tensors[1].fields[3] = rawOffset(0x80000000) }, "outside the"},
		{"operator tensor index", func(m *miniModel) { m.operators[0].fields[2] = []int32{9} }, "refers to tensor 9 of 2"},
		{"negative operator tensor index", func(m *miniModel) { m.operators[0].fields[1] = []int32{-5} }, "refers to tensor -5"},
		{"subgraph input index", func(m *miniModel) { m.inputs = []int32{2} }, "input/output tensor 2 of 2"},
		{"no inputs", func(m *miniModel) { m.inputs = nil }, "0 inputs"},
		{"no subgraphs", func(m *miniModel) { m.subgraphs = func(*tbl) []*tbl { return []*tbl{} } }, "no subgraphs"},
		{"too many dimensions", func(m *miniModel) { m.tensors[0].fields[0] = make([]int32, 17) }, "17 dimensions"},
		{"custom op without a name", func(m *miniModel) { m.opCode = tb(uint8(32), nil, int32(1), int32(32)) }, "CUSTOM without a name"},
		{"metadata buffer index", func(m *miniModel) { m.metadata = []*tbl{tb("TFLITE_METADATA", uint32(3))} }, `metadata "TFLITE_METADATA" uses buffer 3 of 1`},
		{"buffer outside the file", func(m *miniModel) {
			m.buffers = []*tbl{tb(nil, uint64(16), uint64(1<<40))}
		}, "outside the file"},
		{"buffer offset past the end", func(m *miniModel) {
			m.buffers = []*tbl{tb(nil, uint64(1<<62), uint64(8))}
		}, "outside the file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMini()
			c.change(m)
			_, err := Parse(m.bytes())
			if err == nil {
				t.Fatalf("accepted; want an error saying %q", c.want)
			}
			if !errors.Is(err, ErrNotTFLite) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want ErrNotTFLite saying %q", err, c.want)
			}
		})
	}
}

func TestOperatorNames(t *testing.T) {
	cases := []struct {
		code *tbl
		want string
	}{
		{tb(uint8(3), nil, int32(1)), "CONV_2D"},                   // old files: only the deprecated byte
		{tb(uint8(127), nil, int32(1), int32(150)), "GELU"},        // new ops: 127 marks "see builtin_code"
		{tb(uint8(0), nil, int32(1), int32(9)), "FULLY_CONNECTED"}, // both set, agreeing with the larger
		{tb(uint8(32), "MyOp", int32(1), int32(32)), "MyOp"},       // custom op
		{tb(uint8(127), nil, int32(1), int32(9999)), "BUILTIN_9999"},
	}
	for _, c := range cases {
		m := newMini()
		m.opCode = c.code
		info, err := Parse(m.bytes())
		if err != nil {
			t.Fatalf("%s: %v", c.want, err)
		}
		if info.Ops[c.want] != 1 {
			t.Errorf("ops %v, want one %s", info.Ops, c.want)
		}
	}
}

func TestPerAxisAndSparse(t *testing.T) {
	m := newMini()
	m.tensors[0].fields = append(m.tensors[0].fields[:4], tb(nil, nil, []float32{0.1, 0.2}, []int64{0, 0}), nil, tb())
	info, err := Parse(m.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if in := info.Inputs[0]; !in.PerAxis || !in.Sparse || !info.Sparse {
		t.Errorf("input %+v, model sparse %v: want per-axis and sparse", in, info.Sparse)
	}
	m = newMini()
	m.tensors[1].fields[1] = uint8(1) // float16
	if info, err := Parse(m.bytes()); err != nil || !info.Float16 {
		t.Errorf("float16 tensor not reported: %v, %+v", err, info)
	}
}

// labelsZip is the zip archive the TFLite metadata writer appends to a model.
func labelsZip(t *testing.T, name, body string) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	f, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(body))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// metadataBuffer builds a ModelMetadata flatbuffer (metadata_schema.fbs:
// ModelMetadata name 0, subgraph_metadata 3; SubGraphMetadata
// output_tensor_metadata 3; TensorMetadata associated_files 6;
// AssociatedFile name 0, type 2) naming the output's labels file.
func metadataBuffer(ident, file string, typ uint8) []byte {
	af := tb(file, nil, typ)
	out := tb(nil, nil, nil, nil, nil, nil, []*tbl{af})
	sg := tb(nil, nil, nil, []*tbl{out})
	return build(ident, tb("Tiny classifier", nil, nil, []*tbl{sg}))
}

func TestMetadataLabels(t *testing.T) {
	cases := []struct {
		name   string
		meta   []byte
		zip    []byte
		labels []string
		err    string // the error Parse gives, when it refuses the file
	}{
		{"labels", metadataBuffer("M001", "labels.txt", 2), labelsZip(t, "labels.txt", "cat\ndog\r\nbird\n\n"), []string{"cat", "dog", "bird"}, ""},
		{"other file type", metadataBuffer("M001", "labels.txt", 1), labelsZip(t, "labels.txt", "cat\n"), nil, ""},
		// The metadata promises labels the file does not have: a model
		// cut short or damaged, refused rather than run without labels.
		{"file not in the zip", metadataBuffer("M001", "labels.txt", 2), labelsZip(t, "vocab.txt", "cat\n"), nil, `zip archive has no labels.txt`},
		{"no zip", metadataBuffer("M001", "labels.txt", 2), nil, nil, `labels file "labels.txt"`},
		{"not metadata", metadataBuffer("XXXX", "labels.txt", 2), labelsZip(t, "labels.txt", "cat\n"), nil, ""},
		{"garbage metadata", []byte("\xff\xff\xff\x7fM001garbage"), labelsZip(t, "labels.txt", "cat\n"), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMini()
			m.buffers = append(m.buffers, tb(c.meta))
			m.metadata = []*tbl{tb("TFLITE_METADATA", uint32(1))}
			data := append(m.bytes(), c.zip...)
			info, err := Parse(data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrNotTFLite) {
					t.Fatalf("Parse: %v, want an ErrNotTFLite containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(info.Labels, "|") != strings.Join(c.labels, "|") {
				t.Errorf("labels %q, want %q", info.Labels, c.labels)
			}
			if len(info.Metadata) != 1 || info.Metadata[0] != "TFLITE_METADATA" {
				t.Errorf("metadata %v", info.Metadata)
			}
		})
	}
}

// TestBufferOutsideFlatbuffer checks buffers stored after the flatbuffer
// (offset and size from the file start, as converters write models of more
// than 2 GiB), here for the metadata.
func TestBufferOutsideFlatbuffer(t *testing.T) {
	m := newMini()
	meta := metadataBuffer("M001", "labels.txt", 2)
	const pad = 1 << 12 // the flatbuffer is far smaller
	m.buffers = append(m.buffers, tb(nil, uint64(pad), uint64(len(meta))))
	m.metadata = []*tbl{tb("TFLITE_METADATA", uint32(1))}
	fb := m.bytes()
	if len(fb) > pad {
		t.Fatalf("test flatbuffer of %d bytes is larger than %d", len(fb), pad)
	}
	data := append(append(append(fb, make([]byte, pad-len(fb))...), meta...), labelsZip(t, "labels.txt", "a\nb\n")...)
	info, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(info.Labels, ",") != "a,b" || info.ModelName != "Tiny classifier" {
		t.Errorf("labels %q, name %q", info.Labels, info.ModelName)
	}
}
