package fleet

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/edged-io/edged/internal/publish/mqtt"
)

// Assembly puts an artifact together from its chunks in a partial file of
// the store. Each chunk is checked against its sha256 in the (signed)
// manifest before it is written; the whole is checked against the
// artifact's sha256 at the end. A partial file left by an earlier run is
// picked up where it stopped: the chunks it holds that check out count as
// received.
type Assembly struct {
	a    *Artifact
	path string
	f    *os.File
	have []bool
	left int
}

// Assemble opens (or resumes) the assembly of a in the store.
func (s *Store) Assemble(a *Artifact) (*Assembly, error) {
	if len(a.Chunks) == 0 {
		return nil, errors.New("artifact has no chunks")
	}
	p := s.partialPath(a.SHA256)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	as := &Assembly{a: a, path: p, f: f, have: make([]bool, len(a.Chunks)), left: len(a.Chunks)}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if st.Size() > 0 {
		// Resume: keep what checks out.
		buf := make([]byte, a.ChunkSize)
		for i := range a.Chunks {
			n, err := f.ReadAt(buf[:as.chunkLen(i)], int64(i)*int64(a.ChunkSize))
			if n == as.chunkLen(i) && (err == nil || errors.Is(err, io.EOF)) {
				sum := sha256.Sum256(buf[:n])
				if hexSHA(sum[:]) == a.Chunks[i] {
					as.have[i] = true
					as.left--
				}
			}
		}
	}
	if err := f.Truncate(a.Size); err != nil {
		f.Close()
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return as, nil
}

func (as *Assembly) chunkLen(i int) int {
	if i == len(as.a.Chunks)-1 {
		if r := int(as.a.Size % int64(as.a.ChunkSize)); r != 0 {
			return r
		}
	}
	return as.a.ChunkSize
}

// Put checks and writes chunk i. It reports whether the chunk was new; a
// chunk that does not check out is an error and changes nothing.
func (as *Assembly) Put(i int, data []byte) (bool, error) {
	if i < 0 || i >= len(as.have) {
		return false, fmt.Errorf("chunk %d: the artifact has %d", i, len(as.have))
	}
	if as.have[i] {
		return false, nil
	}
	if len(data) != as.chunkLen(i) {
		return false, fmt.Errorf("chunk %d: %d bytes, %d expected (truncated or padded)", i, len(data), as.chunkLen(i))
	}
	sum := sha256.Sum256(data)
	if hexSHA(sum[:]) != as.a.Chunks[i] {
		return false, fmt.Errorf("chunk %d: sha256 %.12s… does not match the manifest's %.12s…", i, hexSHA(sum[:]), as.a.Chunks[i])
	}
	if _, err := as.f.WriteAt(data, int64(i)*int64(as.a.ChunkSize)); err != nil {
		return false, fmt.Errorf("chunk %d: %w", i, err)
	}
	as.have[i] = true
	as.left--
	return true, nil
}

// Missing is how many chunks are still to come.
func (as *Assembly) Missing() int { return as.left }

// Received is how many bytes have checked out so far.
func (as *Assembly) Received() int64 {
	var n int64
	for i, ok := range as.have {
		if ok {
			n += int64(as.chunkLen(i))
		}
	}
	return n
}

// Finish checks the whole file against the artifact's sha256 and moves it
// to dst. The assembly is closed either way; a file that does not check
// out is removed, so the next attempt starts over.
func (as *Assembly) Finish(dst string) error {
	defer as.Close()
	if as.left > 0 {
		return fmt.Errorf("%d of %d chunks missing", as.left, len(as.have))
	}
	if err := as.f.Sync(); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if err := verifyFile(as.f, as.a); err != nil {
		os.Remove(as.path)
		return err
	}
	return moveAtomic(as.path, dst)
}

// Close releases the partial file (kept for a later resume).
func (as *Assembly) Close() error {
	if as.f == nil {
		return nil
	}
	err := as.f.Close()
	as.f = nil
	return err
}

// verifyFile checks f's size and sha256 against a.
func verifyFile(f *os.File, a *Artifact) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	h := sha256.New()
	n, err := copyBounded(h, f, a.Size)
	if err != nil {
		return fmt.Errorf("artifact %.12s…: %w", a.SHA256, err)
	}
	if n != a.Size {
		return fmt.Errorf("artifact %.12s…: %d bytes, %d announced (truncated)", a.SHA256, n, a.Size)
	}
	if got := hexSHA(h.Sum(nil)); got != a.SHA256 {
		return fmt.Errorf("artifact: sha256 %.12s… does not match the manifest's %.12s… (corrupt)", got, a.SHA256)
	}
	return nil
}

// HTTPClient returns the client artifacts are fetched with: TLS verified
// (against caFile when given, else the system's roots), redirects bounded,
// the whole fetch bounded by timeout.
func HTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc, err := TLSConfig(caFile)
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		return nil
	}}, nil
}

// TLSConfig verifies servers against caFile's certificates, or the
// system's roots when caFile is empty.
func TLSConfig(caFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := mqtt.CertPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Fetch downloads a over HTTP(S) into the store and moves it to dst once
// its size and sha256 check out. A response longer than the artifact's
// size is cut off and refused.
func (s *Store) Fetch(ctx context.Context, client *http.Client, a *Artifact, dst string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", a.URL, resp.Status)
	}
	if resp.ContentLength > a.Size {
		return fmt.Errorf("fetch %s: %d bytes offered, %d announced (too big)", a.URL, resp.ContentLength, a.Size)
	}
	p := s.partialPath(a.SHA256) + ".http"
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer f.Close()
	if _, err := copyBounded(f, resp.Body, a.Size); err != nil {
		os.Remove(p)
		return fmt.Errorf("fetch %s: %w", a.URL, err)
	}
	if err := f.Sync(); err != nil {
		os.Remove(p)
		return fmt.Errorf("fleet: %w", err)
	}
	if err := verifyFile(f, a); err != nil {
		os.Remove(p)
		return fmt.Errorf("fetch %s: %w", a.URL, err)
	}
	return moveAtomic(p, dst)
}
