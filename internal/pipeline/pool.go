package pipeline

// The shared inference pool: the cameras (and regions) that run one model
// share a few sessions on it instead of opening one each, so that however
// many cameras there are, no more invokes run at once than the cores can
// take. On a 2-core box, four cameras each with their own single-thread
// session have four interpreters competing for two cores; with a pool of
// two, two invokes run and the other cameras' newest frames wait for the
// first session given back (their capture keeps only the newest frame, so
// nothing goes stale while they wait).

import (
	"errors"
	"fmt"
	"sync"

	"github.com/edged-io/edged/internal/infer"
)

// sessionPool is one model's shared sessions. Sessions are opened when a
// camera wants one and every open one is busy, up to size; a camera that
// finds them all busy waits for the first given back.
type sessionPool struct {
	model *Model
	size  int
	idle  chan *stages // cap size

	mu     sync.Mutex // guards all and closed; held while a session opens
	all    []*stages
	closed bool
}

func newSessionPool(m *Model, size int) *sessionPool {
	return &sessionPool{model: m, size: size, idle: make(chan *stages, size)}
}

// get borrows a session for camera; give it back with put once its
// output is read.
func (p *sessionPool) get(camera string) (*stages, error) {
	select {
	case st := <-p.idle:
		return st, nil
	default:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("model %q: %w", p.model.Name, infer.ErrClosed)
	}
	if len(p.all) < p.size {
		st, err := openStages(camera, p.model)
		if err == nil {
			p.all = append(p.all, st)
		}
		p.mu.Unlock()
		return st, err
	}
	p.mu.Unlock()
	return <-p.idle, nil
}

// put gives back a session get lent.
func (p *sessionPool) put(st *stages) { p.idle <- st }

// opened is how many sessions the pool has open.
func (p *sessionPool) opened() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// close closes the pool's sessions; call it once no camera runs the
// model (Model.Close).
func (p *sessionPool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, st := range p.all {
		errs = append(errs, st.sess.Close())
	}
	p.all = nil
	return errors.Join(errs...)
}
