package watch

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func result(device, camera, boot string, seq uint64, label string) (string, []byte) {
	return "edged/" + device + "/" + camera + "/result",
		fmt.Appendf(nil, `{"v":1,"device":%q,"camera":%q,"boot":%q,"seq":%d,"labels":[{"label":%q,"score":0.9}],"latency_ms":{"total":12.5}}`,
			device, camera, boot, seq, label)
}

func TestSequence(t *testing.T) {
	var got []Event
	w := New("edged", func(e Event) { got = append(got, e) })
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	w.now = func() time.Time { now = now.Add(100 * time.Millisecond); return now }
	for _, s := range []struct {
		boot string
		seq  uint64
	}{{"b1", 1}, {"b1", 2}, {"b1", 5}, {"b1", 5}, {"b1", 3}, {"b1", 6}, {"b2", 1}, {"b2", 2}} {
		w.Handle(result("gate", "front", s.boot, s.seq, "car"))
	}
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, fmt.Sprintf("%s:%d", e.Kind, e.Count))
	}
	if want := "lost:2 duplicate:1 duplicate:1 restart:1"; strings.Join(kinds, " ") != want {
		t.Fatalf("events %v, want %s", kinds, want)
	}
	if !strings.Contains(got[0].Detail, "seq 3 to 4") {
		t.Errorf("loss detail %q", got[0].Detail)
	}
	// Malformed and foreign messages are ignored.
	w.Handle("edged/gate/front/result", []byte("{not json"))
	w.Handle("other/gate/front/result", []byte(`{"boot":"x","seq":9}`))
	w.Handle("edged/gate/status", []byte("online"))
	w.Handle("edged/gate/front/door/state", []byte(`{"state":"open","score":0.8}`))
	var b bytes.Buffer
	w.Table(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("table:\n%s", b.String())
	}
	f := strings.Fields(lines[1])
	// device camera broker states rate latency results lost dups age
	if f[0] != "gate" || f[1] != "front" || f[2] != "online" || f[3] != "door=open" || f[6] != "8" || f[7] != "2" || f[8] != "2" {
		t.Errorf("row %q", lines[1])
	}
}
