package fleet

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzOpen feeds arbitrary deploy messages to Open. Whatever comes in,
// Open must not panic, must refuse with a *Rejection, and anything it
// accepts must have been signed by the trusted key over the manifest
// bytes it parsed, and must pass the manifest's checks again.
func FuzzOpen(f *testing.F) {
	priv, pub := testKey(1)
	stranger, _ := testKey(2)
	keys := []PublicKey{pub}

	good := mustJSON(f, testManifest())
	f.Add(mustSeal(f, good, priv))
	rollback := testManifest()
	rollback.Rollback, rollback.Model.Model, rollback.Model.Labels = true, nil, nil
	f.Add(mustSeal(f, mustJSON(f, rollback), priv))
	config := testManifest()
	config.Model, config.Config = nil, &Artifact{SHA256: fakeSHA(3), Size: 10, URL: "https://c.example/c"}
	f.Add(mustSeal(f, mustJSON(f, config), priv))
	// Signed, but the manifest does not pass its checks.
	bad := testManifest()
	bad.Version, bad.Model.Model.URL = 0, "file:///x"
	f.Add(mustSeal(f, mustJSON(f, bad), priv))
	f.Add(mustSeal(f, []byte(`{"id":"x"}`), priv))
	f.Add(mustSeal(f, []byte(`null`), priv))
	// Not signed by a trusted key, or not signed at all.
	f.Add(mustSeal(f, good, stranger))
	f.Add(mustJSON(f, Envelope{Manifest: good}))
	flipped := bytes.Clone(good)
	flipped[10] ^= 1
	f.Add(mustJSON(f, Envelope{Manifest: flipped, Signatures: []Signature{{Key: pub.ID, Sig: ed25519.Sign(priv.Key, good)}}}))
	// Not envelopes.
	f.Add([]byte(`{"manifest":"","signatures":[]}`))
	f.Add([]byte(`{"manifest":"e30=","signatures":[{"key":"","sig":""}]}`))
	f.Add(append(mustSeal(f, good, priv), '}'))
	f.Add([]byte("{"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, payload []byte) {
		m, signer, err := Open(payload, keys)
		if err != nil {
			var r *Rejection
			if !errors.As(err, &r) {
				t.Fatalf("Open: %v (%T), not a *Rejection", err, err)
			}
			if m != nil {
				t.Fatal("Open returned a manifest with its error")
			}
			return
		}
		if m == nil {
			t.Fatal("Open returned neither a manifest nor an error")
		}
		if signer != pub.ID {
			t.Fatalf("signer %q, want %q", signer, pub.ID)
		}
		if err := m.check(); err != nil {
			t.Fatalf("an accepted manifest fails its checks: %v", err)
		}
		// Read the envelope again, independently, and find the signature.
		// Only its first JSON value counts: trailing data is a separate
		// matter (TestOpenTrailingCloser).
		var env Envelope
		if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&env); err != nil {
			t.Fatalf("accepted, but not an envelope: %v", err)
		}
		signed := false
		for _, s := range env.Signatures {
			if s.Key == pub.ID && ed25519.Verify(pub.Key, env.Manifest, s.Sig) {
				signed = true
			}
		}
		if !signed {
			t.Fatal("accepted without a valid signature by the trusted key")
		}
		// And what was accepted is what the signed bytes say.
		again, err := ParseManifest(env.Manifest)
		if err != nil {
			t.Fatalf("the signed bytes do not parse on their own: %v", err)
		}
		if again.ID != m.ID || again.Version != m.Version || !again.Expires.Equal(m.Expires) {
			t.Fatalf("accepted %s v%d, the signed bytes say %s v%d", m.ID, m.Version, again.ID, again.Version)
		}
	})
}

// FuzzParseManifest feeds arbitrary bytes to ParseManifest. It must not
// panic, must refuse with a *Rejection, and a manifest it accepts must
// survive a round trip through JSON unchanged.
func FuzzParseManifest(f *testing.F) {
	f.Add(mustJSON(f, testManifest()))
	m := testManifest()
	m.Rollback, m.Model.Model, m.Model.Labels = true, nil, nil
	f.Add(mustJSON(f, m))
	m = testManifest()
	m.Model = nil
	m.Config = &Artifact{SHA256: fakeSHA(3), Size: 1 << 20, ChunkSize: 1 << 19, Chunks: []string{fakeSHA(4), fakeSHA(5)}}
	f.Add(mustJSON(f, m))
	m = testManifest()
	m.Canary = []Canary{{Image: []byte("\xff\xd8\xff\xe0"), Expect: "person"}}
	m.Expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("", 5*3600+1800))
	f.Add(mustJSON(f, m))
	f.Add([]byte(`{"id":"a","version":1,"expires":"2030-01-01T00:00:00Z","devices":["b"],"config":{"sha256":"` + fakeSHA(1) + `","size":1,"url":"http://x"}}`))
	f.Add([]byte(`{"id":"a","version":1,"expires":"2030-01-01T00:00:00Z","groups":["g"],"model":{"slot":"s","model":{"sha256":"` + fakeSHA(1) + `","size":1025,"chunk_size":1024,"chunks":["` + fakeSHA(2) + `","` + fakeSHA(3) + `"]}}}`))
	f.Add([]byte(`{"id":"a","version":18446744073709551615,"expires":"9999-12-31T23:59:59.999999999-23:59","devices":["b"],"rollback":true,"model":{"slot":"s"},"health_window":"24h"}`))
	f.Add([]byte(`{"id":"a","Version":1,"ID":"b"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"model":{"model":null}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			var r *Rejection
			if !errors.As(err, &r) {
				t.Fatalf("ParseManifest: %v (%T), not a *Rejection", err, err)
			}
			if m != nil {
				t.Fatal("ParseManifest returned a manifest with its error")
			}
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("an accepted manifest fails its checks the second time: %v", err)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("an accepted manifest does not marshal: %v", err)
		}
		again, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("an accepted manifest, marshalled, is refused: %v\n%s", err, out)
		}
		if again.ID != m.ID || again.Version != m.Version {
			t.Fatalf("round trip: %s v%d became %s v%d", m.ID, m.Version, again.ID, again.Version)
		}
		out2, err := json.Marshal(again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", out, out2)
		}
	})
}

// FuzzAssembly drives an Assembly with a sequence of chunk deliveries,
// good and bad, and restarts (with or without damage to the partial file
// in between), all read from the fuzz input. After every step each chunk
// the assembly counts as received must be on disk exactly as in the
// original; once none is missing, Finish must put the original in place.
func FuzzAssembly(f *testing.F) {
	f.Add([]byte{0x00, 0x10, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0})
	f.Add([]byte{0xff, 0x13, 2, 1, 9, 4, 0, 77, 3, 2, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 7, 1, 5, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0})
	f.Add([]byte{0x01, 0x00, 0, 0, 0, 0, 0, 0, 7, 0, 3, 6, 0, 0, 0, 0, 0})
	f.Add([]byte{0x00, 0x04, 5, 0, 0, 5, 1, 0, 0, 0xff, 0, 0, 0x7f, 0, 0, 3, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0})

	// One store for all the inputs a process runs (one at a time), emptied
	// before each: a new folder per input would cost more than the input.
	s := testStore(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		s.Clean(&State{})
		size := 1 + int(binary.LittleEndian.Uint16(in))%(5*MinChunkSize)
		in = in[2:]
		data := testData(size, uint64(size))
		a, parts := Chunks(data, MinChunkSize)
		n := len(parts)
		as := mustAssemble(t, s, a)
		defer func() { as.Close() }()

		check := func(step int) {
			t.Helper()
			disk, err := os.ReadFile(s.partialPath(a.SHA256))
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if len(disk) != size {
				t.Fatalf("step %d: partial file of %d bytes, want %d", step, len(disk), size)
			}
			missing, received := 0, int64(0)
			for i, ok := range as.have {
				if !ok {
					missing++
					continue
				}
				received += int64(len(parts[i]))
				off := i * MinChunkSize
				if !bytes.Equal(disk[off:off+len(parts[i])], parts[i]) {
					t.Fatalf("step %d: chunk %d counts as received but differs on disk", step, i)
				}
			}
			if as.Missing() != missing || as.Received() != received {
				t.Fatalf("step %d: Missing %d and Received %d, the chunks say %d and %d", step, as.Missing(), as.Received(), missing, received)
			}
		}
		resume := func() {
			t.Helper()
			if err := as.Close(); err != nil {
				t.Fatal(err)
			}
			as = mustAssemble(t, s, a)
		}

		for step := 0; len(in) >= 3; step++ {
			op, idx, arg := in[0]%8, int(int8(in[1])), int(in[2])
			in = in[3:]
			// Mostly a chunk of the artifact; sometimes one past the end,
			// or below zero.
			i := idx
			if i >= 0 {
				i %= n + 1
			}
			var want []byte
			if i >= 0 && i < n {
				want = parts[i]
			} else {
				want = parts[0]
			}
			var put []byte
			switch op {
			case 0, 1:
				put = want
			case 2: // truncated
				put = want[:arg%len(want)]
			case 3: // padded
				put = append(bytes.Clone(want), byte(arg))
			case 4: // one byte changed
				put = bytes.Clone(want)
				put[arg%len(put)] ^= byte(arg | 1)
			case 5: // another chunk's bytes
				put = parts[(max(i, 0)+1+arg)%n]
			case 6:
				resume()
				check(step)
				continue
			case 7: // damage on disk while stopped, then resume
				if err := as.Close(); err != nil {
					t.Fatal(err)
				}
				off := (arg*131 + max(i, 0)*MinChunkSize) % size
				p := s.partialPath(a.SHA256)
				disk, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				// Always unlike the original, even when damaged twice.
				disk[off] = ^data[off]
				if err := os.WriteFile(p, disk, 0o640); err != nil {
					t.Fatal(err)
				}
				as = mustAssemble(t, s, a)
				if as.have[off/MinChunkSize] {
					t.Fatalf("step %d: chunk %d damaged on disk still counts as received", step, off/MinChunkSize)
				}
				check(step)
				continue
			}
			before, had := as.Missing(), i >= 0 && i < n && as.have[i]
			isNew, err := as.Put(i, put)
			switch {
			case isNew && err != nil:
				t.Fatalf("step %d: chunk %d both new and refused: %v", step, i, err)
			case isNew && !bytes.Equal(put, parts[i]):
				t.Fatalf("step %d: chunk %d taken with the wrong bytes", step, i)
			case isNew && (had || as.Missing() != before-1):
				t.Fatalf("step %d: chunk %d new, but %d missing before and %d after", step, i, before, as.Missing())
			case !isNew && as.Missing() != before:
				t.Fatalf("step %d: chunk %d not new, but Missing went from %d to %d", step, i, before, as.Missing())
			case err != nil && (i >= 0 && i < n) && !had && bytes.Equal(put, parts[i]):
				t.Fatalf("step %d: the right bytes for chunk %d refused: %v", step, i, err)
			}
			check(step)
		}
		if as.Missing() > 0 {
			return
		}
		dst := s.ArtifactPath(a.SHA256, ".tflite")
		if err := as.Finish(dst); err != nil {
			t.Fatalf("all chunks received, Finish: %v", err)
		}
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the finished file differs from the data (%v)", err)
		}
	})
}
