package outbox

import (
	"encoding/binary"
	"errors"
)

// The record format of a queued message, as stored in the bbolt file.

// Record layout: version (1), flags (1), accepted unix ns (8), topic length
// (2), topic, payload.
const (
	recordVersion = 1
	headerLen     = 12
	flagChange    = 1
)

func encode(it *item, payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(it.topic)+len(payload))
	b[0] = recordVersion
	if it.change {
		b[1] = flagChange
	}
	binary.BigEndian.PutUint64(b[2:], uint64(it.accepted))
	binary.BigEndian.PutUint16(b[10:], uint16(len(it.topic)))
	b = append(b, it.topic...)
	return append(b, payload...)
}

// decode reads a record; the payload aliases v.
func decode(k, v []byte) (item, []byte, error) {
	if len(k) != 8 || len(v) < headerLen || v[0] != recordVersion {
		return item{}, nil, errors.New("bad record")
	}
	n := int(binary.BigEndian.Uint16(v[10:]))
	if len(v) < headerLen+n {
		return item{}, nil, errors.New("short record")
	}
	it := item{key: binary.BigEndian.Uint64(k), size: int64(len(v) + len(k)),
		accepted: int64(binary.BigEndian.Uint64(v[2:])), change: v[1]&flagChange != 0,
		topic: string(v[headerLen : headerLen+n])}
	return it, v[headerLen+n:], nil
}

func keyBytes(k uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k)
	return b[:]
}
