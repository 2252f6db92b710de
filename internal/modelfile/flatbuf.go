package modelfile

import (
	"encoding/binary"
	"fmt"
	"math"
)

// buf is a flatbuffer with every read bounds-checked. A failed read records
// the first error and returns zero values, so parsing code stays linear and
// checks buf.err at the end of each step.
type buf struct {
	b    []byte
	err  error
	work int // vector elements visited, bounded so shared sub-tables cannot make parsing quadratic
}

// table is the position of a table in the buffer and of its vtable.
type table struct {
	pos, vt, vtLen int
	ok             bool
}

func (b *buf) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

func (b *buf) in(pos, n int) bool {
	if pos < 0 || n < 0 || pos > len(b.b) || n > len(b.b)-pos {
		b.fail("offset %d (+%d bytes) is outside the %d-byte file", pos, n, len(b.b))
		return false
	}
	return true
}

func (b *buf) u8(pos int) uint8 {
	if !b.in(pos, 1) {
		return 0
	}
	return b.b[pos]
}

func (b *buf) u16(pos int) uint16 {
	if !b.in(pos, 2) {
		return 0
	}
	return binary.LittleEndian.Uint16(b.b[pos:])
}

func (b *buf) u32(pos int) uint32 {
	if !b.in(pos, 4) {
		return 0
	}
	return binary.LittleEndian.Uint32(b.b[pos:])
}

func (b *buf) u64(pos int) uint64 {
	if !b.in(pos, 8) {
		return 0
	}
	return binary.LittleEndian.Uint64(b.b[pos:])
}

// root returns the root table whose offset is at pos.
func (b *buf) root(pos int) table { return b.tableAt(b.follow(pos)) }

// follow returns the position that the unsigned offset stored at pos points
// to. Offsets point forward; the sum is computed without int overflow, so a
// huge offset cannot wrap backwards on 32-bit platforms.
func (b *buf) follow(pos int) int {
	off := b.u32(pos)
	if b.err != nil {
		return -1
	}
	if uint64(off) > uint64(len(b.b)-pos) {
		b.fail("offset %d at %d points outside the %d-byte file", off, pos, len(b.b))
		return -1
	}
	return pos + int(off)
}

// index reads the unsigned index stored at field i (default 0) as an int,
// or -1 when it is too large for any table of this file, so that it never
// turns negative on 32-bit platforms.
func (b *buf) index(t table, i int) int {
	v := b.fieldU32(t, i, 0)
	if uint64(v) > uint64(len(b.b)) {
		return -1
	}
	return int(v)
}

// tableAt reads the table at pos and locates its vtable.
func (b *buf) tableAt(pos int) table {
	if !b.in(pos, 4) {
		return table{}
	}
	vt64 := int64(pos) - int64(int32(b.u32(pos)))
	if vt64 < 0 || vt64 > int64(len(b.b)) {
		b.fail("table at %d has its vtable outside the %d-byte file", pos, len(b.b))
		return table{}
	}
	vt := int(vt64)
	vtLen := int(b.u16(vt))
	if b.err != nil {
		return table{}
	}
	if vtLen < 4 || vtLen%2 != 0 || !b.in(vt, vtLen) {
		b.fail("table at %d has a malformed vtable at %d (size %d)", pos, vt, vtLen)
		return table{}
	}
	return table{pos: pos, vt: vt, vtLen: vtLen, ok: true}
}

// field returns the absolute position of field i of t, or -1 when absent.
func (b *buf) field(t table, i int) int {
	if !t.ok {
		return -1
	}
	o := 4 + 2*i
	if o+2 > t.vtLen {
		return -1
	}
	off := int(b.u16(t.vt + o))
	if off == 0 {
		return -1
	}
	return t.pos + off
}

func (b *buf) fieldU8(t table, i int, def uint8) uint8 {
	if p := b.field(t, i); p >= 0 {
		return b.u8(p)
	}
	return def
}

func (b *buf) fieldU32(t table, i int, def uint32) uint32 {
	if p := b.field(t, i); p >= 0 {
		return b.u32(p)
	}
	return def
}

func (b *buf) fieldU64(t table, i int, def uint64) uint64 {
	if p := b.field(t, i); p >= 0 {
		return b.u64(p)
	}
	return def
}

// deref follows the offset stored at field i; -1 when absent.
func (b *buf) deref(t table, i int) int {
	p := b.field(t, i)
	if p < 0 {
		return -1
	}
	return b.follow(p)
}

// fieldTable returns the sub-table at field i.
func (b *buf) fieldTable(t table, i int) table {
	p := b.deref(t, i)
	if p < 0 || b.err != nil {
		return table{}
	}
	return b.tableAt(p)
}

// vector returns the position of the first element and the length of the
// vector at field i, checking that length*elemSize bytes are in the file.
func (b *buf) vector(t table, i, elemSize int) (start, n int) {
	p := b.deref(t, i)
	if p < 0 || b.err != nil {
		return 0, 0
	}
	n32 := b.u32(p)
	if b.err != nil {
		return 0, 0
	}
	if uint64(n32) > uint64((len(b.b)-p-4)/max(elemSize, 1)) {
		b.fail("vector at %d claims %d elements, more than the file holds", p, n32)
		return 0, 0
	}
	n = int(n32)
	if b.work += n; b.work > 4*len(b.b)+1<<16 {
		b.fail("the file's tables refer to each other more than any model needs (%d elements visited)", b.work)
		return 0, 0
	}
	return p + 4, n
}

func (b *buf) fieldString(t table, i int) string {
	start, n := b.vector(t, i, 1)
	if n == 0 || b.err != nil {
		return ""
	}
	return string(b.b[start : start+n])
}

func (b *buf) fieldBytes(t table, i int) []byte {
	start, n := b.vector(t, i, 1)
	if n == 0 || b.err != nil {
		return nil
	}
	return b.b[start : start+n]
}

// tables returns the tables of the vector of tables at field i.
func (b *buf) tables(t table, i int) []table {
	start, n := b.vector(t, i, 4)
	if b.err != nil {
		return nil
	}
	out := make([]table, 0, n)
	for k := 0; k < n; k++ {
		p := start + 4*k
		tt := b.tableAt(b.follow(p))
		if b.err != nil {
			return nil
		}
		out = append(out, tt)
	}
	return out
}

func (b *buf) int32s(t table, i int) []int {
	start, n := b.vector(t, i, 4)
	if b.err != nil {
		return nil
	}
	out := make([]int, n)
	for k := range out {
		out[k] = int(int32(b.u32(start + 4*k)))
	}
	return out
}

func (b *buf) int64s(t table, i int) []int64 {
	start, n := b.vector(t, i, 8)
	if b.err != nil {
		return nil
	}
	out := make([]int64, n)
	for k := range out {
		out[k] = int64(b.u64(start + 8*k))
	}
	return out
}

func (b *buf) float32s(t table, i int) []float32 {
	start, n := b.vector(t, i, 4)
	if b.err != nil {
		return nil
	}
	out := make([]float32, n)
	for k := range out {
		out[k] = math.Float32frombits(b.u32(start + 4*k))
	}
	return out
}
