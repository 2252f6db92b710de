package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"unicode/utf8"
)

// The record format of a queued message, as stored in the bbolt file.

// Record layout, version 2: version (1), flags (1), accepted unix ns (8),
// topic length (2), CRC-32C of everything after it (4), topic, payload.
// Version 1 (written before the checksum) has no CRC field and still
// reads.
const (
	recordVersion = 2
	headerLenV1   = 12
	headerLen     = 16
	flagChange    = 1
	flagRetain    = 2 // published retained (a region's state)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encode(it *item, payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(it.topic)+len(payload))
	b[0] = recordVersion
	if it.change {
		b[1] |= flagChange
	}
	if it.retain {
		b[1] |= flagRetain
	}
	binary.BigEndian.PutUint64(b[2:], uint64(it.accepted))
	binary.BigEndian.PutUint16(b[10:], uint16(len(it.topic)))
	b = append(b, it.topic...)
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[12:], checksum(b))
	return b
}

// checksum covers the header before the CRC field and everything after it.
func checksum(b []byte) uint32 {
	c := crc32.Update(0, crcTable, b[:12])
	return crc32.Update(c, crcTable, b[headerLen:])
}

// decode reads a record and checks it; the payload aliases v. A record
// that fails (cut short, a wrong checksum, a topic that is not one a
// PUBLISH may carry) is an error, and the queue drops and counts it.
func decode(k, v []byte) (item, []byte, error) {
	if len(k) != 8 || len(v) < 1 {
		return item{}, nil, errors.New("bad record key or empty record")
	}
	hdr := headerLen
	switch v[0] {
	case 1:
		hdr = headerLenV1
	case recordVersion:
	default:
		return item{}, nil, fmt.Errorf("record version %d", v[0])
	}
	if len(v) < hdr {
		return item{}, nil, errors.New("short record header")
	}
	n := int(binary.BigEndian.Uint16(v[10:]))
	if len(v) < hdr+n {
		return item{}, nil, errors.New("short record")
	}
	if v[0] == recordVersion && binary.BigEndian.Uint32(v[12:]) != checksum(v) {
		return item{}, nil, errors.New("record checksum mismatch")
	}
	topic := v[hdr : hdr+n]
	if err := checkTopic(topic); err != nil {
		return item{}, nil, err
	}
	it := item{key: binary.BigEndian.Uint64(k), size: int64(len(v) + len(k)),
		accepted: int64(binary.BigEndian.Uint64(v[2:])), change: v[1]&flagChange != 0, retain: v[1]&flagRetain != 0,
		topic: string(topic)}
	return it, v[hdr+n:], nil
}

// checkTopic refuses what no PUBLISH may carry: an empty topic, one that
// is not UTF-8 or holds NUL, and wildcards.
func checkTopic(t []byte) error {
	if len(t) == 0 || !utf8.Valid(t) || strings.ContainsAny(string(t), "\x00+#") {
		return fmt.Errorf("record topic %q is not a publishable topic", t)
	}
	return nil
}

func keyBytes(k uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k)
	return b[:]
}
