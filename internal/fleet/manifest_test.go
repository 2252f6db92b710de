package fleet

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// testKey derives a signing key from a one-byte seed, so that tests do
// not depend on the system's random source and keys are the same on
// every run.
func testKey(seed byte) (PrivateKey, PublicKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	id := KeyID(pub)
	return PrivateKey{ID: id, Key: priv}, PublicKey{ID: id, Key: pub, File: "test-" + hex.EncodeToString([]byte{seed})}
}

// fakeSHA is a well-formed sha256 in hex made of one repeated byte.
func fakeSHA(b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

// testArtifact describes a 2500-byte file in three 1024-byte chunks,
// also available from an https URL. Its sums are well-formed but made up.
func testArtifact(b byte) *Artifact {
	return &Artifact{
		SHA256:    fakeSHA(b),
		Size:      2500,
		URL:       "https://models.example.com/" + fakeSHA(b),
		ChunkSize: 1024,
		Chunks:    []string{fakeSHA(b + 1), fakeSHA(b + 2), fakeSHA(b + 3)},
	}
}

// testManifest is a manifest that passes every check: a model and labels
// for one slot, for one device and one group.
func testManifest() *Manifest {
	return &Manifest{
		ID:      "deploy-42",
		Version: 42,
		Issued:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Expires: time.Date(2035, 1, 2, 3, 4, 5, 0, time.UTC),
		Devices: []string{"box-1"},
		Groups:  []string{"lobby"},
		Model: &ModelTarget{
			Slot:   "detector",
			Model:  testArtifact(0x10),
			Labels: &Artifact{SHA256: fakeSHA(0x20), Size: 100, URL: "http://labels.example.com/l.txt"},
		},
		HealthWindow: "90s",
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustSeal(t testing.TB, manifest []byte, key PrivateKey) []byte {
	t.Helper()
	env, err := Seal(manifest, key)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// withField adds a field to a JSON object.
func withField(t testing.TB, object []byte, name string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(object, &m); err != nil {
		t.Fatal(err)
	}
	m[name] = value
	return mustJSON(t, m)
}

// asRejection checks that err is a *Rejection whose reason mentions want.
func asRejection(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a rejection mentioning %q", want)
	}
	var r *Rejection
	if !errors.As(err, &r) {
		t.Fatalf("error %v (%T) is not a *Rejection", err, err)
	}
	if !strings.Contains(r.Reason, want) {
		t.Fatalf("reason %q does not mention %q", r.Reason, want)
	}
}

func TestOpenAcceptsSignedManifest(t *testing.T) {
	priv, pub := testKey(1)
	want := testManifest()
	m, signer, err := Open(mustSeal(t, mustJSON(t, want), priv), []PublicKey{pub})
	if err != nil {
		t.Fatal(err)
	}
	if signer != pub.ID {
		t.Errorf("signer %q, want %q", signer, pub.ID)
	}
	if m.ID != want.ID || m.Version != want.Version || !m.Expires.Equal(want.Expires) {
		t.Errorf("opened %s v%d expiring %v, want %s v%d expiring %v", m.ID, m.Version, m.Expires, want.ID, want.Version, want.Expires)
	}
	if m.Model == nil || m.Model.Model == nil || m.Model.Model.SHA256 != want.Model.Model.SHA256 || len(m.Model.Model.Chunks) != 3 {
		t.Errorf("model target not carried over: %+v", m.Model)
	}
	arts := m.Artifacts()
	if len(arts) != 2 || arts["model"] == nil || arts["labels"] == nil {
		t.Errorf("Artifacts() = %v, want model and labels", arts)
	}
}

func TestOpenRejects(t *testing.T) {
	priv, pub := testKey(1)
	other, _ := testKey(2)
	keys := []PublicKey{pub}

	// signed seals a manifest changed by edit with the trusted key.
	signed := func(edit func(m *Manifest)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			m := testManifest()
			edit(m)
			return mustSeal(t, mustJSON(t, m), priv)
		}
	}
	valid := func(t *testing.T) []byte { return mustJSON(t, testManifest()) }

	cases := []struct {
		name    string
		payload func(t *testing.T) []byte
		want    string
	}{
		{"not json", func(*testing.T) []byte { return []byte("hello") }, "not a signed envelope"},
		{"no manifest", func(t *testing.T) []byte {
			return mustJSON(t, Envelope{Signatures: []Signature{{Key: pub.ID, Sig: make([]byte, 64)}}})
		}, "no manifest"},
		{"unsigned", func(t *testing.T) []byte {
			return mustJSON(t, Envelope{Manifest: valid(t)})
		}, "unsigned"},
		{"unknown key", func(t *testing.T) []byte {
			return mustSeal(t, valid(t), other)
		}, other.ID},
		{"key id of a trusted key, signature by another", func(t *testing.T) []byte {
			mb := valid(t)
			return mustJSON(t, Envelope{Manifest: mb, Signatures: []Signature{{Key: pub.ID, Sig: ed25519.Sign(other.Key, mb)}}})
		}, "no valid signature"},
		{"short signature", func(t *testing.T) []byte {
			mb := valid(t)
			return mustJSON(t, Envelope{Manifest: mb, Signatures: []Signature{{Key: pub.ID, Sig: ed25519.Sign(priv.Key, mb)[:32]}}})
		}, "no valid signature"},
		{"manifest changed after signing", func(t *testing.T) []byte {
			mb := valid(t)
			sig := ed25519.Sign(priv.Key, mb)
			changed := bytes.Replace(mb, []byte(`"version":42`), []byte(`"version":43`), 1)
			if bytes.Equal(changed, mb) {
				t.Fatal("version not found in the manifest's JSON")
			}
			return mustJSON(t, Envelope{Manifest: changed, Signatures: []Signature{{Key: pub.ID, Sig: sig}}})
		}, "no valid signature"},
		{"one byte flipped after signing", func(t *testing.T) []byte {
			mb := valid(t)
			sig := ed25519.Sign(priv.Key, mb)
			mb[len(mb)/2] ^= 0x01
			return mustJSON(t, Envelope{Manifest: mb, Signatures: []Signature{{Key: pub.ID, Sig: sig}}})
		}, "no valid signature"},
		{"too many signatures", func(t *testing.T) []byte {
			mb := valid(t)
			sig := Signature{Key: pub.ID, Sig: ed25519.Sign(priv.Key, mb)}
			sigs := make([]Signature, MaxSignatures+1)
			for i := range sigs {
				sigs[i] = sig
			}
			return mustJSON(t, Envelope{Manifest: mb, Signatures: sigs})
		}, "9 signatures"},
		{"oversized payload", func(*testing.T) []byte {
			return bytes.Repeat([]byte(" "), MaxEnvelope+1)
		}, "larger than"},
		{"unknown field in envelope", func(t *testing.T) []byte {
			return withField(t, mustSeal(t, valid(t), priv), "comment", "hi")
		}, `"comment"`},
		{"unknown field in manifest", func(t *testing.T) []byte {
			return mustSeal(t, withField(t, valid(t), "colour", "blue"), priv)
		}, `"colour"`},
		{"unknown field in an artifact", func(t *testing.T) []byte {
			var m map[string]any
			if err := json.Unmarshal(valid(t), &m); err != nil {
				t.Fatal(err)
			}
			m["config"] = map[string]any{"sha256": fakeSHA(1), "size": 10, "url": "https://x.example/c", "mirror": "y"}
			return mustSeal(t, mustJSON(t, m), priv)
		}, `"mirror"`},
		{"trailing data after envelope", func(t *testing.T) []byte {
			return append(mustSeal(t, valid(t), priv), []byte(` "more"`)...)
		}, "data after"},
		{"second envelope after envelope", func(t *testing.T) []byte {
			env := mustSeal(t, valid(t), priv)
			return append(append(env, '\n'), env...)
		}, "data after"},
		{"trailing data after manifest", func(t *testing.T) []byte {
			return mustSeal(t, append(valid(t), []byte(`{}`)...), priv)
		}, "data after"},
		{"missing id", signed(func(m *Manifest) { m.ID = "" }), `id ""`},
		{"bad id", signed(func(m *Manifest) { m.ID = "deploy 42/../x" }), `"deploy 42/../x"`},
		{"missing version", signed(func(m *Manifest) { m.Version = 0 }), "version missing"},
		{"missing expires", signed(func(m *Manifest) { m.Expires = time.Time{} }), "expires missing"},
		{"missing targets", signed(func(m *Manifest) { m.Devices, m.Groups = nil, nil }), "no devices or groups"},
		{"bad device name", signed(func(m *Manifest) { m.Devices = []string{"box/1"} }), `"box/1"`},
		{"bad group name", signed(func(m *Manifest) { m.Groups = []string{"+"} }), `"+"`},
		{"nothing to deploy", signed(func(m *Manifest) { m.Model = nil }), "neither a model nor a config"},
		{"bad slot", signed(func(m *Manifest) { m.Model.Slot = "a b" }), `model.slot "a b"`},
		{"bad health window", signed(func(m *Manifest) { m.HealthWindow = "forever" }), `health_window "forever"`},
		{"health window above a day", signed(func(m *Manifest) { m.HealthWindow = "25h" }), `health_window "25h"`},
		{"negative health window", signed(func(m *Manifest) { m.HealthWindow = "-1s" }), `health_window "-1s"`},
		{"short sha256", signed(func(m *Manifest) { m.Model.Model.SHA256 = "abc123" }), `model.model.sha256 "abc123"`},
		{"upper-case sha256", signed(func(m *Manifest) { m.Model.Model.SHA256 = strings.ToUpper(fakeSHA(0xab)) }), "model.model.sha256"},
		{"bad labels sha256", signed(func(m *Manifest) { m.Model.Labels.SHA256 = "xyz" }), `model.labels.sha256 "xyz"`},
		{"bad config sha256", signed(func(m *Manifest) {
			m.Config = &Artifact{SHA256: "nope", Size: 1, URL: "https://c.example/c"}
		}), `config.sha256 "nope"`},
		{"bad chunk sha256", signed(func(m *Manifest) { m.Model.Model.Chunks[1] = "zz" }), "model.model.chunks[1]"},
		{"zero size", signed(func(m *Manifest) { m.Model.Labels.Size = 0 }), "model.labels.size 0"},
		{"no source", signed(func(m *Manifest) { m.Model.Model.URL, m.Model.Model.Chunks = "", nil }), "model.model: neither chunks nor a url"},
		{"too few chunks for size", signed(func(m *Manifest) { m.Model.Model.Size = 4000 }), "3 chunks of 1024 bytes do not make 4000 bytes (4 chunks)"},
		{"too many chunks for size", signed(func(m *Manifest) { m.Model.Model.Size = 2048 }), "do not make 2048 bytes"},
		{"chunk size too small", signed(func(m *Manifest) { m.Model.Model.ChunkSize = MinChunkSize - 1 }), "model.model.chunk_size 1023"},
		{"chunk size too large", signed(func(m *Manifest) { m.Model.Model.ChunkSize = MaxChunkSize + 1 }), "model.model.chunk_size 8388609"},
		{"chunks without a chunk size", signed(func(m *Manifest) { m.Model.Model.ChunkSize = 0 }), "model.model.chunk_size 0"},
		{"file url", signed(func(m *Manifest) { m.Model.Model.URL = "file:///etc/passwd" }), `model.model.url "file:///etc/passwd"`},
		{"ftp url", signed(func(m *Manifest) { m.Model.Labels.URL = "ftp://x.example/l.txt" }), `model.labels.url "ftp://x.example/l.txt"`},
		{"model missing without rollback", signed(func(m *Manifest) { m.Model.Model, m.Model.Labels = nil, nil }), "model.model missing"},
		{"labels without model in a rollback", signed(func(m *Manifest) { m.Rollback, m.Model.Model = true, nil }), "model.labels without model.model"},
		{"config with rollback", signed(func(m *Manifest) {
			m.Rollback, m.Model.Model, m.Model.Labels = true, nil, nil
			m.Config = &Artifact{SHA256: fakeSHA(3), Size: 10, URL: "https://c.example/c"}
		}), "a config is rolled back by deploying the old one"},
		{"canary without model", signed(func(m *Manifest) {
			m.Model = nil
			m.Config = &Artifact{SHA256: fakeSHA(3), Size: 10, URL: "https://c.example/c"}
			m.Canary = []Canary{{Image: []byte{0xff, 0xd8}, Expect: "cat"}}
		}), "canary images need a model slot"},
		{"canary without image", signed(func(m *Manifest) { m.Canary = []Canary{{Expect: "cat"}} }), "canary[0]"},
		{"canary without label", signed(func(m *Manifest) {
			m.Canary = []Canary{{Image: []byte{1}, Expect: "cat"}, {Image: []byte{1}}}
		}), "canary[1]"},
		{"too many canaries", signed(func(m *Manifest) {
			for range MaxCanaries + 1 {
				m.Canary = append(m.Canary, Canary{Image: []byte{1}, Expect: "cat"})
			}
		}), "17 canary images"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, _, err := Open(c.payload(t), keys)
			asRejection(t, err, c.want)
			if m != nil {
				t.Errorf("a manifest came back with the rejection: %+v", m)
			}
		})
	}
}

// TestOpenAcceptsVariants covers manifests that look unusual but are
// allowed: a rollback without a model artifact, a config alone, an
// artifact fetched by URL only, chunked only, and sizes that fill the
// last chunk exactly.
func TestOpenAcceptsVariants(t *testing.T) {
	priv, pub := testKey(1)
	cases := []struct {
		name string
		edit func(m *Manifest)
	}{
		{"rollback without model", func(m *Manifest) { m.Rollback, m.Model.Model, m.Model.Labels = true, nil, nil }},
		{"config only", func(m *Manifest) {
			m.Model = nil
			m.Config = &Artifact{SHA256: fakeSHA(3), Size: 10, URL: "https://c.example/c"}
		}},
		{"url only", func(m *Manifest) { m.Model.Model.Chunks, m.Model.Model.ChunkSize = nil, 0 }},
		{"chunks only", func(m *Manifest) { m.Model.Model.URL = "" }},
		{"last chunk full", func(m *Manifest) { m.Model.Model.Size = 3 * 1024 }},
		{"last chunk one byte", func(m *Manifest) { m.Model.Model.Size = 2*1024 + 1 }},
		{"devices only", func(m *Manifest) { m.Groups = nil }},
		{"groups only", func(m *Manifest) { m.Devices = nil }},
		{"zero health window", func(m *Manifest) { m.HealthWindow = "0s" }},
		{"canaries", func(m *Manifest) { m.Canary = []Canary{{Image: []byte{0xff, 0xd8, 0xff}, Expect: "person"}} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := testManifest()
			c.edit(m)
			got, _, err := Open(mustSeal(t, mustJSON(t, m), priv), []PublicKey{pub})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != m.ID {
				t.Errorf("id %q, want %q", got.ID, m.ID)
			}
		})
	}
}

// TestOpenTrailingCloser covers a closing bracket or brace after the
// JSON value, which strictJSON is documented to refuse.
func TestOpenTrailingCloser(t *testing.T) {
	priv, pub := testKey(1)
	for _, tail := range []string{"}", "]", " ]]"} {
		env := append(mustSeal(t, mustJSON(t, testManifest()), priv), tail...)
		_, _, err := Open(env, []PublicKey{pub})
		asRejection(t, err, "data after")
		_, err = ParseManifest(append(mustJSON(t, testManifest()), tail...))
		asRejection(t, err, "data after")
	}
}

func TestOpenKeyRotation(t *testing.T) {
	oldPriv, oldPub := testKey(1)
	newPriv, newPub := testKey(2)
	strangerPriv, _ := testKey(3)
	keys := []PublicKey{oldPub, newPub}
	mb := mustJSON(t, testManifest())

	for _, k := range []PrivateKey{oldPriv, newPriv} {
		_, signer, err := Open(mustSeal(t, mb, k), keys)
		if err != nil {
			t.Fatalf("signed by %s: %v", k.ID, err)
		}
		if signer != k.ID {
			t.Errorf("signer %s, want %s", signer, k.ID)
		}
	}

	// During a rotation an envelope may carry signatures by both keys,
	// or by a key this box does not know yet followed by one it does.
	sig := func(k PrivateKey) Signature { return Signature{Key: k.ID, Sig: ed25519.Sign(k.Key, mb)} }
	for _, sigs := range [][]Signature{
		{sig(newPriv), sig(oldPriv)},
		{sig(strangerPriv), sig(oldPriv)},
	} {
		_, signer, err := Open(mustJSON(t, Envelope{Manifest: mb, Signatures: sigs}), []PublicKey{oldPub})
		if err != nil {
			t.Fatal(err)
		}
		if signer != oldPub.ID {
			t.Errorf("signer %s, want %s", signer, oldPub.ID)
		}
	}

	// Once the old key is retired, its envelopes are refused.
	_, _, err := Open(mustSeal(t, mb, oldPriv), []PublicKey{newPub})
	asRejection(t, err, oldPriv.ID)
	// With no trusted keys at all, nothing opens.
	_, _, err = Open(mustSeal(t, mb, oldPriv), nil)
	asRejection(t, err, "no valid signature")
}

func TestParseManifestRejectsNull(t *testing.T) {
	for _, in := range []string{"null", "{}", "[]", `""`, ""} {
		_, err := ParseManifest([]byte(in))
		var r *Rejection
		if !errors.As(err, &r) {
			t.Errorf("ParseManifest(%q) = %v, want a *Rejection", in, err)
		}
	}
}

func TestManifestFor(t *testing.T) {
	m := &Manifest{Devices: []string{"box-1", "box-2"}, Groups: []string{"lobby", "dock"}}
	cases := []struct {
		device string
		groups []string
		want   bool
	}{
		{"box-1", nil, true},
		{"box-2", []string{"other"}, true},
		{"box-3", []string{"dock"}, true},
		{"box-3", []string{"other", "lobby"}, true},
		{"box-3", nil, false},
		{"box-3", []string{"other"}, false},
		{"lobby", nil, false},               // a group's name is not a device's
		{"box-3", []string{"box-1"}, false}, // nor a device's a group's
		{"Box-1", nil, false},               // names are case-sensitive
	}
	for _, c := range cases {
		if got := m.For(c.device, c.groups); got != c.want {
			t.Errorf("For(%q, %q) = %v, want %v", c.device, c.groups, got, c.want)
		}
	}
	if (&Manifest{}).For("box-1", []string{"lobby"}) {
		t.Error("a manifest with no targets is for somebody")
	}
}

func TestRejectionError(t *testing.T) {
	err := reject("manifest %s: %d", "x", 3)
	if err.Error() != "manifest x: 3" {
		t.Errorf("Error() = %q", err.Error())
	}
}
