package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/edged-io/edged/internal/result"
)

// collect is an Output that keeps copies of what it was given.
type collect struct {
	mu   sync.Mutex
	msgs []Message
	fail func(Message) error
}

func (c *collect) Write(_ context.Context, m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.Payload = append([]byte(nil), m.Payload...)
	c.msgs = append(c.msgs, m)
	if c.fail != nil {
		return c.fail(m)
	}
	return nil
}

// TestSinkEncodesOnce: three outputs get the same message, encoded once
// per result, with one sequence per camera and the topic under the
// configured prefix.
func TestSinkEncodesOnce(t *testing.T) {
	a, b, c := &collect{}, &collect{}, &collect{}
	s := NewSink(Identity{Device: "dev", Boot: "b1", TopicPrefix: "site/7"}, a, b, c)
	ctx := context.Background()
	order := []string{"front", "back", "front", "front", "back"}
	for i, cam := range order {
		if err := s.Publish(ctx, cam, mkResult(uint64(i), result.Label{Label: "x", Index: 1, Score: 0.5})); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Encoded(); n != uint64(len(order)) {
		t.Errorf("%d encodes for %d results and 3 outputs, want one per result", n, len(order))
	}
	for _, o := range []*collect{b, c} {
		if fmt.Sprint(o.msgs) != fmt.Sprint(a.msgs) {
			t.Errorf("outputs got different messages:\n%v\n%v", o.msgs, a.msgs)
		}
	}
	want := map[string][]uint64{"front": {1, 2, 3}, "back": {1, 2}}
	got := map[string][]uint64{}
	for _, m := range a.msgs {
		var p Payload
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if m.Topic != "site/7/dev/"+m.Camera+"/result" || p.Camera != m.Camera || p.Seq != m.Seq || p.Boot != "b1" {
			t.Errorf("message %+v (payload %+v): want topic site/7/dev/%s/result and the payload's camera and seq", m, p, m.Camera)
		}
		got[m.Camera] = append(got[m.Camera], m.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seq per camera %v, want %v", got, want)
	}
}

// TestSinkChange: a message is a change when its top label differs from
// the camera's previous one; each camera's first message is one.
func TestSinkChange(t *testing.T) {
	o := &collect{}
	s := NewSink(Identity{Device: "d", Boot: "b", TopicPrefix: "edged"}, o)
	steps := []struct {
		cam, top string
		want     bool
	}{{"a", "cat", true}, {"a", "cat", false}, {"b", "cat", true}, {"a", "dog", true}, {"a", "", true}, {"a", "", false}}
	for _, st := range steps {
		var labels []result.Label
		if st.top != "" {
			labels = []result.Label{{Label: st.top, Score: 1}}
		}
		s.Publish(context.Background(), st.cam, mkResult(1, labels...))
	}
	for i, st := range steps {
		if o.msgs[i].Change != st.want {
			t.Errorf("step %d (%s, %q): change %v, want %v", i, st.cam, st.top, o.msgs[i].Change, st.want)
		}
	}
}

// TestSinkFailingOutput: an output's failure is returned, the others still
// get the message, and the sequence number stays used (a gap).
func TestSinkFailingOutput(t *testing.T) {
	fail := errors.New("broker away")
	bad := &collect{fail: func(m Message) error {
		if m.Seq == 2 {
			return fail
		}
		return nil
	}}
	good := &collect{}
	s := NewSink(Identity{Device: "d", Boot: "b", TopicPrefix: "edged"}, bad, good)
	var errs []error
	for i := 0; i < 3; i++ {
		errs = append(errs, s.Publish(context.Background(), "c", mkResult(uint64(i))))
	}
	if errs[0] != nil || !errors.Is(errs[1], fail) || errs[2] != nil {
		t.Fatalf("errors %v, want only the second, wrapping %v", errs, fail)
	}
	if len(good.msgs) != 3 || good.msgs[2].Seq != 3 {
		t.Errorf("the healthy output got %v, want seq 1, 2, 3", good.msgs)
	}
}
