package modelfile

import (
	"encoding/binary"
	"math"
)

// A small flatbuffer writer for the tests. It lays objects out front to
// back, so every offset points forward as the format requires, and it can
// write deliberately broken offsets, lengths and vtables.

// tbl is a table; fields[i] is field i, nil when absent. Field values are
// uint8, uint32, int32, uint64 (inline scalars), string, []byte, []int32,
// []int64, []float32, *tbl and []*tbl (by offset), and the broken kinds
// rawOffset and badVector.
type tbl struct {
	fields  []any
	soffset *int32  // written instead of the real offset to the vtable
	vtLen   *uint16 // written instead of the real vtable size
}

type (
	// rawOffset is an offset field holding this value as is.
	rawOffset uint32
	// badVector is a vector header claiming this many elements, with no data.
	badVector uint32
)

func tb(fields ...any) *tbl { return &tbl{fields: fields} }

// build writes a flatbuffer file: root offset, the 4-byte identifier, the
// root table and everything it refers to.
func build(ident string, root *tbl) []byte {
	w := &writer{b: make([]byte, 8)}
	copy(w.b[4:], ident)
	pos := w.table(root)
	binary.LittleEndian.PutUint32(w.b, uint32(pos))
	return w.b
}

type writer struct{ b []byte }

func (w *writer) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *writer) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

// ref writes v and stores its offset from slot in the 4 bytes at slot.
func (w *writer) ref(slot int, v any) {
	pos := w.object(v)
	binary.LittleEndian.PutUint32(w.b[slot:], uint32(pos-slot))
}

func inlineSize(v any) int {
	switch v.(type) {
	case uint8:
		return 1
	case uint64:
		return 8
	default:
		return 4
	}
}

// table writes the vtable, the table, then every object it refers to, and
// returns the table's position.
func (w *writer) table(x *tbl) int {
	offs := make([]uint16, len(x.fields))
	size := 4 // the soffset
	for i, f := range x.fields {
		if f == nil {
			continue
		}
		n := inlineSize(f)
		size = (size + n - 1) / n * n
		offs[i] = uint16(size)
		size += n
	}
	w.align(2)
	vt := len(w.b)
	vtLen := uint16(4 + 2*len(x.fields))
	if x.vtLen != nil {
		vtLen = *x.vtLen
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, vtLen)
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(size))
	for _, o := range offs {
		w.b = binary.LittleEndian.AppendUint16(w.b, o)
	}
	w.align(8)
	pos := len(w.b)
	w.b = append(w.b, make([]byte, size)...)
	so := int32(pos - vt)
	if x.soffset != nil {
		so = *x.soffset
	}
	binary.LittleEndian.PutUint32(w.b[pos:], uint32(so))
	type pending struct {
		slot int
		v    any
	}
	var later []pending
	for i, f := range x.fields {
		p := pos + int(offs[i])
		switch v := f.(type) {
		case nil:
		case uint8:
			w.b[p] = v
		case uint32:
			binary.LittleEndian.PutUint32(w.b[p:], v)
		case int32:
			binary.LittleEndian.PutUint32(w.b[p:], uint32(v))
		case uint64:
			binary.LittleEndian.PutUint64(w.b[p:], v)
		case rawOffset:
			binary.LittleEndian.PutUint32(w.b[p:], uint32(v))
		default:
			later = append(later, pending{p, v})
		}
	}
	for _, l := range later {
		w.ref(l.slot, l.v)
	}
	return pos
}

// object writes a table, vector or string at the end and returns where it
// starts (for vectors and strings, their length field).
func (w *writer) object(v any) int {
	if t, ok := v.(*tbl); ok {
		return w.table(t)
	}
	w.align(8)
	pos := len(w.b)
	switch v := v.(type) {
	case string:
		w.u32(uint32(len(v)))
		w.b = append(w.b, v...)
		w.b = append(w.b, 0)
	case []byte:
		w.u32(uint32(len(v)))
		w.b = append(w.b, v...)
	case []int32:
		w.u32(uint32(len(v)))
		for _, e := range v {
			w.u32(uint32(e))
		}
	case []int64:
		w.u32(0) // pad so that the elements after the length are 8-aligned
		pos = len(w.b)
		w.u32(uint32(len(v)))
		for _, e := range v {
			w.u64(uint64(e))
		}
	case []float32:
		w.u32(uint32(len(v)))
		for _, e := range v {
			w.u32(math.Float32bits(e))
		}
	case []*tbl:
		w.u32(uint32(len(v)))
		slots := len(w.b)
		w.b = append(w.b, make([]byte, 4*len(v))...)
		for i, t := range v {
			w.ref(slots+4*i, t)
		}
	case badVector:
		w.u32(uint32(v))
	default:
		panic("flatbuffer test writer: unknown field kind")
	}
	return pos
}
