package outbox

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// ackAll acknowledges every send at once.
type ackAll struct{ n atomic.Int64 }

func (a *ackAll) Send(context.Context, string, []byte) error { a.n.Add(1); return nil }
func (a *ackAll) Connected() bool                            { return true }

func commits(t *testing.T, q *Outbox) uint64 {
	t.Helper()
	var m dto.Metric
	if err := q.met.commit.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestDeletesRideAlong: results accepted one at a time, each delivered
// before the next, cost one commit each (the previous result's delete
// rides along), not two; once results stop, the last deletes are
// committed on their own, so a reopened queue is empty.
func TestDeletesRideAlong(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := open(t, path, nil)
	ctx, cancel := context.WithCancel(context.Background())
	s := &ackAll{}
	done := make(chan struct{})
	go func() { q.Run(ctx, s); close(done) }()
	const n = 40
	for i := range n {
		if err := q.Publish(ctx, "cam", result(uint64(i+1), "x")); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); q.Stats().Depth > 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("result %d not delivered: %+v", i+1, q.Stats())
			}
		}
	}
	got := commits(t, q)
	t.Logf("%d results delivered one by one: %d commits", n, got)
	if got > n+n/4 {
		t.Errorf("%d commits for %d results: deletes are not riding along", got, n)
	}
	time.Sleep(3 * deleteDelay)
	if c := commits(t, q); c <= got {
		t.Errorf("no commit of the last deletes within %v after the last result", 3*deleteDelay)
	}
	cancel()
	<-done
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if s.n.Load() != n {
		t.Errorf("%d sends, want %d", s.n.Load(), n)
	}
	again := open(t, path, nil)
	defer again.Close()
	if st := again.Stats(); st.Depth != 0 {
		t.Errorf("reopened queue holds %d results, want 0", st.Depth)
	}
}
