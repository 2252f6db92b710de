package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edged-io/edged/internal/publish"
)

// filled writes a queue of n results, each payload carrying a unique
// marker, and closes it.
func filled(t *testing.T, path string, n int) {
	t.Helper()
	q := open(t, path, nil)
	for i := 0; i < n; i++ {
		m := publish.Message{Camera: "c", Topic: "edged/dev/c/result", Seq: uint64(i + 1),
			Payload: []byte(fmt.Sprintf(`{"marker":"m%05d","pad":"%s"}`, i, strings.Repeat("x", 200)))}
		if err := q.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

// asideFiles lists what was moved aside next to path.
func asideFiles(t *testing.T, path string) []string {
	m, _ := filepath.Glob(path + ".corrupt-*")
	return m
}

// TestDamagedFileMovedAside: queue files that bbolt refuses, panics on or
// finds inconsistent (garbage, a page overwritten, the file cut short) do
// not stop edged: the file is moved aside, counted, and a fresh queue
// accepts results.
func TestDamagedFileMovedAside(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o600)
		}},
		{"a data page overwritten", func(t *testing.T, path string) {
			filled(t, path, 300)
			data, _ := os.ReadFile(path)
			page := os.Getpagesize()
			for p := 2; p*page < len(data); p += 3 { // every third page after the meta pages
				copy(data[p*page:], bytes.Repeat([]byte{0xA5}, page))
			}
			os.WriteFile(path, data, 0o600)
		}},
		{"cut short", func(t *testing.T, path string) {
			filled(t, path, 300)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/3], 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queue.db")
			tc.damage(t, path)
			met := NewMetrics(nil)
			q := open(t, path, func(o *Options) { o.Metrics = met })
			defer q.Close()
			if got := asideFiles(t, path); len(got) != 1 {
				t.Fatalf("files moved aside: %v, want one", got)
			}
			if n := testutil.ToFloat64(met.corruptFiles); n != 1 {
				t.Errorf("edged_queue_corrupt_files_total = %v, want 1", n)
			}
			if s := q.Stats(); s.Depth != 0 {
				t.Errorf("fresh queue holds %+v", s)
			}
			if err := q.Publish(context.Background(), "c", mkResult(1, "x")); err != nil || q.Stats().Depth != 1 {
				t.Errorf("the fresh queue does not accept: %v, %+v", err, q.Stats())
			}
		})
	}
}

// TestDamagedRecordDropped: a record whose bytes changed on disk fails its
// checksum at open and is dropped and counted; the others are delivered.
func TestDamagedRecordDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	filled(t, path, 20)
	data, _ := os.ReadFile(path)
	// Every copy of record 7 (bbolt leaves stale copies in freed pages):
	// one byte of its payload changes, its length does not.
	n := 0
	for i := 0; ; n++ {
		j := bytes.Index(data[i:], []byte(`"m00007"`))
		if j < 0 {
			break
		}
		data[i+j+3] ^= 0x01
		i += j + 1
	}
	if n == 0 {
		t.Fatal("record 7 not found in the file")
	}
	os.WriteFile(path, data, 0o600)
	met := NewMetrics(nil)
	q := open(t, path, func(o *Options) { o.Metrics = met })
	defer q.Close()
	if got := asideFiles(t, path); len(got) != 0 {
		t.Errorf("a damaged record moved the whole file aside: %v", got)
	}
	if s := q.Stats(); s.Depth != 19 {
		t.Errorf("depth %d after open, want 19 (one record dropped)", s.Depth)
	}
	if n := testutil.ToFloat64(met.dropped.WithLabelValues(ReasonCorrupt)); n != 1 {
		t.Errorf("dropped{reason=corrupt} = %v, want 1", n)
	}
}

// FuzzDecode: the record decoder never panics, refuses what it cannot
// vouch for, and what it accepts re-encodes to a record that decodes the
// same.
func FuzzDecode(f *testing.F) {
	it := item{accepted: 1764000000000000000, change: true, topic: "edged/dev/c/result"}
	f.Add(keyBytes(7), encode(&it, []byte(`{"v":1}`)))
	f.Add(keyBytes(1), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'a', '/', 'b', '{', '}'})
	f.Add(keyBytes(2), []byte{2})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		got, payload, err := decode(k, v)
		if err != nil {
			return
		}
		if checkTopic([]byte(got.topic)) != nil {
			t.Fatalf("accepted topic %q", got.topic)
		}
		again, p2, err := decode(k, encode(&got, payload))
		if err != nil || again.topic != got.topic || again.accepted != got.accepted || again.change != got.change || !bytes.Equal(p2, payload) {
			t.Fatalf("re-encoded record decodes to %+v %q (%v), want %+v %q", again, p2, err, got, payload)
		}
	})
}

// TestQueueBelongsToItsTarget: a queue file records the broker and device
// its results are for; opened for another, it is refused naming both, so
// results queued for one broker are never published on another.
func TestQueueBelongsToItsTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	a := open(t, path, func(o *Options) { o.Target = "tcp://a:1883 olddev" })
	if err := a.Publish(context.Background(), "secretcam", mkResult(1, "x")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	_, err := Open(Options{Path: path, MaxBytes: 1 << 20, Target: "tcp://b:1883 newdev", Log: testLog(t)})
	if !errors.Is(err, ErrOtherTarget) || !strings.Contains(err.Error(), "tcp://a:1883 olddev") || !strings.Contains(err.Error(), "tcp://b:1883 newdev") {
		t.Fatalf("opened for another target: %v, want ErrOtherTarget naming both", err)
	}
	again := open(t, path, func(o *Options) { o.Target = "tcp://a:1883 olddev" })
	defer again.Close()
	if s := again.Stats(); s.Depth != 1 {
		t.Errorf("the queue's own target finds %+v, want its one result", s)
	}
}
