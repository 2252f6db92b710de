package fleet

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// testData is n bytes that are the same on every run and differ from
// chunk to chunk.
func testData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data
}

func testStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAssemble(t testing.TB, s *Store, a *Artifact) *Assembly {
	t.Helper()
	as, err := s.Assemble(a)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// mustPut puts chunk i and fails unless it was new.
func mustPut(t testing.TB, as *Assembly, i int, data []byte) {
	t.Helper()
	isNew, err := as.Put(i, data)
	if err != nil {
		t.Fatalf("chunk %d: %v", i, err)
	}
	if !isNew {
		t.Fatalf("chunk %d: not new", i)
	}
}

// partials lists the files in the store's partial folder.
func partials(t testing.TB, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "partial"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestChunks(t *testing.T) {
	for _, n := range []int{1, 1023, 1024, 1025, 2500, 3 * 1024} {
		data := testData(n, uint64(n))
		a, parts := Chunks(data, 1024)
		want := (n + 1023) / 1024
		if len(parts) != want || len(a.Chunks) != want {
			t.Fatalf("%d bytes: %d parts and %d sums, want %d", n, len(parts), len(a.Chunks), want)
		}
		if !bytes.Equal(bytes.Join(parts, nil), data) {
			t.Fatalf("%d bytes: parts do not join up to the data", n)
		}
		for i, p := range parts {
			if i < len(parts)-1 && len(p) != 1024 {
				t.Errorf("%d bytes: part %d has %d bytes", n, i, len(p))
			}
			sum := sha256.Sum256(p)
			if hexSHA(sum[:]) != a.Chunks[i] {
				t.Errorf("%d bytes: part %d's sum is wrong", n, i)
			}
		}
		sum := sha256.Sum256(data)
		if a.SHA256 != hexSHA(sum[:]) || a.Size != int64(n) || a.ChunkSize != 1024 {
			t.Errorf("%d bytes: artifact %+v", n, a)
		}
		if err := a.check("t", "model"); err != nil {
			t.Errorf("%d bytes: the artifact does not pass the manifest's checks: %v", n, err)
		}
	}
}

func TestAssemblyAnyOrder(t *testing.T) {
	data := testData(4*1024+100, 1)
	a, parts := Chunks(data, 1024)
	s := testStore(t)
	as := mustAssemble(t, s, a)
	if as.Missing() != 5 || as.Received() != 0 {
		t.Fatalf("new assembly: %d missing, %d received", as.Missing(), as.Received())
	}
	for n, i := range []int{3, 0, 4, 2, 1} {
		mustPut(t, as, i, parts[i])
		if as.Missing() != 4-n {
			t.Errorf("after %d chunks: %d missing", n+1, as.Missing())
		}
	}
	if as.Received() != int64(len(data)) {
		t.Errorf("received %d of %d", as.Received(), len(data))
	}
	dst := s.ArtifactPath(a.SHA256, ".tflite")
	if err := as.Finish(dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("the finished file differs from the data")
	}
	if p := partials(t, s); len(p) != 0 {
		t.Errorf("partial files left: %v", p)
	}
	if ok, _ := checkFile(dst, a); !ok {
		t.Error("checkFile refuses the finished file")
	}
}

func TestAssemblyRefusals(t *testing.T) {
	data := testData(3*1024+10, 2)
	a, parts := Chunks(data, 1024)
	s := testStore(t)
	as := mustAssemble(t, s, a)
	defer as.Close()
	mustPut(t, as, 0, parts[0])

	// A duplicate is no news and no error.
	if isNew, err := as.Put(0, parts[0]); isNew || err != nil {
		t.Errorf("duplicate chunk 0: new %v, %v", isNew, err)
	}

	flipped := bytes.Clone(parts[1])
	flipped[100] ^= 0x80
	cases := []struct {
		name string
		i    int
		data []byte
		want string
	}{
		{"truncated", 1, parts[1][:1000], "truncated"},
		{"padded", 1, append(bytes.Clone(parts[1]), 0), "padded"},
		{"empty", 1, nil, "0 bytes"},
		{"last chunk at full size", 3, make([]byte, 1024), "1024 bytes, 10 expected"},
		{"wrong hash", 1, flipped, "does not match"},
		{"another chunk's data", 2, parts[1], "does not match"},
		{"negative index", -1, parts[0], "chunk -1"},
		{"index past the end", 4, parts[0], "chunk 4"},
		{"index far past the end", 1 << 30, parts[0], "the artifact has 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isNew, err := as.Put(c.i, c.data)
			wantErr(t, err, c.want)
			if isNew {
				t.Error("a refused chunk counts as new")
			}
			if as.Missing() != 3 || as.Received() != 1024 {
				t.Errorf("after a refusal: %d missing, %d received", as.Missing(), as.Received())
			}
		})
	}
	// Nothing refused reached the disk: past chunk 0 the file is zeros.
	got, err := os.ReadFile(s.partialPath(a.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data) {
		t.Fatalf("partial file of %d bytes, want %d", len(got), len(data))
	}
	if !bytes.Equal(got[:1024], parts[0]) {
		t.Error("chunk 0 is not on disk")
	}
	if !bytes.Equal(got[1024:], make([]byte, len(data)-1024)) {
		t.Error("a refused chunk was written")
	}
	// The right chunks are still taken after the refusals.
	for i := 1; i < 4; i++ {
		mustPut(t, as, i, parts[i])
	}
	if err := as.Finish(s.ArtifactPath(a.SHA256, "")); err != nil {
		t.Fatal(err)
	}
}

func TestAssemblyResume(t *testing.T) {
	data := testData(6*1024+1, 3)
	a, parts := Chunks(data, 1024)
	s := testStore(t)

	as := mustAssemble(t, s, a)
	for _, i := range []int{0, 2, 4, 6} {
		mustPut(t, as, i, parts[i])
	}
	if err := as.Close(); err != nil {
		t.Fatal(err)
	}
	if err := as.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}

	as = mustAssemble(t, s, a)
	if as.Missing() != 3 {
		t.Fatalf("resumed with %d missing, want 3", as.Missing())
	}
	if want := int64(3*1024 + 1); as.Received() != want {
		t.Errorf("resumed with %d bytes received, want %d", as.Received(), want)
	}
	if isNew, err := as.Put(4, parts[4]); isNew || err != nil {
		t.Errorf("chunk 4 from before the resume: new %v, %v", isNew, err)
	}
	mustPut(t, as, 1, parts[1])
	// Stopping again with chunks missing keeps the partial file.
	err := as.Finish(s.ArtifactPath(a.SHA256, ""))
	wantErr(t, err, "2 of 7 chunks missing")
	if p := partials(t, s); len(p) != 1 {
		t.Fatalf("partial files %v, want the one being assembled", p)
	}

	as = mustAssemble(t, s, a)
	if as.Missing() != 2 {
		t.Fatalf("resumed again with %d missing, want 2", as.Missing())
	}
	mustPut(t, as, 3, parts[3])
	mustPut(t, as, 5, parts[5])
	dst := s.ArtifactPath(a.SHA256, ".tflite")
	if err := as.Finish(dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("the resumed file differs from the data")
	}
}

func TestAssemblyResumeCorrupt(t *testing.T) {
	data := testData(4*1024, 4)
	a, parts := Chunks(data, 1024)
	s := testStore(t)
	as := mustAssemble(t, s, a)
	for i := range parts {
		mustPut(t, as, i, parts[i])
	}
	as.Close()

	// One byte of chunk 2 goes bad on disk, and the file loses its tail.
	p := s.partialPath(a.SHA256)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^data[2*1024+7]}, 2*1024+7); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3*1024 + 5); err != nil {
		t.Fatal(err)
	}
	f.Close()

	as = mustAssemble(t, s, a)
	defer as.Close()
	if as.Missing() != 2 {
		t.Fatalf("resumed with %d missing, want 2 (chunk 2 corrupt, chunk 3 cut short)", as.Missing())
	}
	if isNew, err := as.Put(0, parts[0]); isNew || err != nil {
		t.Errorf("chunk 0: new %v, %v; want it counted from the disk", isNew, err)
	}
	mustPut(t, as, 2, parts[2])
	mustPut(t, as, 3, parts[3])
	dst := s.ArtifactPath(a.SHA256, "")
	if err := as.Finish(dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("the repaired file differs from the data")
	}
}

// TestAssemblyResumeLongerFile covers a partial file longer than the
// artifact (left by something else): the chunks still count, and the
// file is cut to size so the whole checks out.
func TestAssemblyResumeLongerFile(t *testing.T) {
	data := testData(2*1024+3, 5)
	a, parts := Chunks(data, 1024)
	s := testStore(t)
	if err := os.WriteFile(s.partialPath(a.SHA256), append(bytes.Clone(data[:1024]), make([]byte, 5000)...), 0o640); err != nil {
		t.Fatal(err)
	}
	as := mustAssemble(t, s, a)
	if as.Missing() != 2 {
		t.Fatalf("%d missing, want 2", as.Missing())
	}
	mustPut(t, as, 1, parts[1])
	mustPut(t, as, 2, parts[2])
	if err := as.Finish(s.ArtifactPath(a.SHA256, "")); err != nil {
		t.Fatal(err)
	}
}

func TestAssemblyFinishWrongWholeSum(t *testing.T) {
	data := testData(2*1024+500, 6)
	a, parts := Chunks(data, 1024)
	a.SHA256 = fakeSHA(0x42) // every chunk checks out, the whole does not
	s := testStore(t)
	as := mustAssemble(t, s, a)
	for i := range parts {
		mustPut(t, as, i, parts[i])
	}
	dst := s.ArtifactPath(a.SHA256, ".tflite")
	err := as.Finish(dst)
	wantErr(t, err, "corrupt")
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file that did not check out is in place: %v", err)
	}
	if p := partials(t, s); len(p) != 0 {
		t.Errorf("partial files left: %v; want the bad one removed", p)
	}
	// The next attempt starts over.
	as = mustAssemble(t, s, a)
	defer as.Close()
	if as.Missing() != len(parts) {
		t.Errorf("after a failed Finish: %d missing, want %d", as.Missing(), len(parts))
	}
}

func TestAssembleNoChunks(t *testing.T) {
	s := testStore(t)
	_, err := s.Assemble(&Artifact{SHA256: fakeSHA(1), Size: 10, URL: "https://x.example/a"})
	wantErr(t, err, "no chunks")
}

// fetchHandler serves data in the ways a server can get it wrong.
func fetchHandler(data []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
	mux.HandleFunc("/long-declared", func(w http.ResponseWriter, r *http.Request) {
		body := append(bytes.Clone(data), "extra"...)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("/long-streamed", func(w http.ResponseWriter, r *http.Request) {
		w.Write(data)
		w.(http.Flusher).Flush() // no Content-Length: chunked encoding
		w.Write([]byte("extra"))
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) { w.Write(data[:len(data)-100]) })
	mux.HandleFunc("/corrupt", func(w http.ResponseWriter, r *http.Request) {
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 1
		w.Write(bad)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/good", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	return mux
}

func TestFetch(t *testing.T) {
	data := testData(3000, 7)
	srv := httptest.NewServer(fetchHandler(data))
	defer srv.Close()
	client, err := HTTPClient("", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want string // "" for success
	}{
		{"/good", ""},
		{"/redirect", ""},
		{"/long-declared", "too big"},
		{"/long-streamed", "more than the 3000 bytes announced"},
		{"/short", "truncated"},
		{"/corrupt", "does not match"},
		{"/missing", "404"},
		{"/loop", "more than 5 redirects"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			s := testStore(t)
			a, _ := Chunks(data, 1024)
			a.URL = srv.URL + c.path
			dst := s.ArtifactPath(a.SHA256, ".tflite")
			err := s.Fetch(t.Context(), client, a, dst)
			if p := partials(t, s); len(p) != 0 {
				t.Errorf("partial files left: %v", p)
			}
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
					t.Error("the fetched file differs from the data")
				}
				return
			}
			wantErr(t, err, c.want)
			if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused download is in place: %v", err)
			}
		})
	}
}

func TestFetchTLS(t *testing.T) {
	data := testData(2000, 8)
	srv := httptest.NewUnstartedServer(fetchHandler(data))
	// The refused handshake is expected: keep it out of the test's output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	a, _ := Chunks(data, 1024)
	a.URL = srv.URL + "/good"

	// The system's roots do not know the test server's certificate.
	s := testStore(t)
	client, err := HTTPClient("", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Fetch(t.Context(), client, a, s.ArtifactPath(a.SHA256, ""))
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("Fetch from a server with an unknown certificate: %v, want a verification error", err)
	}

	// With its certificate as the CA file, the download goes through.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err = HTTPClient(ca, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	dst := s.ArtifactPath(a.SHA256, "")
	if err := s.Fetch(t.Context(), client, a, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("the fetched file differs from the data")
	}
}

func TestHTTPClientCAFile(t *testing.T) {
	dir := t.TempDir()
	_, err := HTTPClient(filepath.Join(dir, "none.pem"), time.Second)
	wantErr(t, err, "none.pem")
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = HTTPClient(junk, time.Second)
	wantErr(t, err, "no PEM certificate")
}

func TestFetchBadURL(t *testing.T) {
	s := testStore(t)
	client, err := HTTPClient("", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a := &Artifact{SHA256: fakeSHA(1), Size: 10, URL: "http://[::1"}
	wantErr(t, s.Fetch(t.Context(), client, a, s.ArtifactPath(a.SHA256, "")), "fetch")
}
