// Package fleet deploys models and configuration to edged boxes over MQTT:
// signed manifests (ed25519 over the manifest's exact bytes), artifacts
// delivered in checked chunks over the broker or fetched over HTTP(S),
// staged on disk, self-tested, swapped in and watched for a health window
// with an automatic rollback (docs/fleet.md).
//
// The device side is Agent; the operator side (signing, publishing,
// following a rollout) is in Publisher and Rollout.
package fleet

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Size bounds on what arrives over the network, checked before anything
// is parsed further.
const (
	// MaxEnvelope bounds a deploy message: the manifest (with any canary
	// images inline) and its signatures.
	MaxEnvelope = 4 << 20
	// MaxCanaries bounds the canary images of one manifest.
	MaxCanaries = 16
	// MaxChunks bounds the chunks of one artifact.
	MaxChunks = 1 << 16
	// MinChunkSize and MaxChunkSize bound an artifact's chunk size.
	MinChunkSize = 1 << 10
	MaxChunkSize = 8 << 20
	// MaxSignatures bounds the signatures on one envelope.
	MaxSignatures = 8
)

// Envelope is what the deploy topics carry: the manifest's bytes exactly
// as signed, and one or more detached signatures over them.
type Envelope struct {
	Manifest   []byte      `json:"manifest"` // base64 in JSON
	Signatures []Signature `json:"signatures"`
}

// Signature is one ed25519 signature and the id of the key that made it.
type Signature struct {
	Key string `json:"key"` // KeyID of the public key
	Sig []byte `json:"sig"` // base64 in JSON
}

// Manifest describes one deployment.
type Manifest struct {
	// ID names the deployment for people and logs.
	ID string `json:"id"`
	// Version increases with every deployment the key holder makes: a box
	// takes only a version above the last it accepted (no replay, no
	// downgrade by an old manifest).
	Version uint64    `json:"version"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// Devices and Groups say which boxes the deployment is for; a box
	// takes it only if it is named or belongs to a named group, whatever
	// topic it arrived on.
	Devices []string `json:"devices,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	// Rollback asks for the slot's previous model. With no model artifact
	// the box goes back to the model it kept from before the current one.
	Rollback bool `json:"rollback,omitempty"`
	// Model replaces the model in one slot (models[].name).
	Model *ModelTarget `json:"model,omitempty"`
	// Config replaces the whole configuration document.
	Config *Artifact `json:"config,omitempty"`
	// Canary images run through the new model before the swap (and again
	// in the health window); each must come out with its expected top-1.
	Canary []Canary `json:"canary,omitempty"`
	// HealthWindow overrides the box's fleet.health_window ("90s").
	HealthWindow string `json:"health_window,omitempty"`
}

// ModelTarget is a model slot and what goes into it.
type ModelTarget struct {
	Slot   string    `json:"slot"`
	Model  *Artifact `json:"model,omitempty"` // nil only for a rollback
	Labels *Artifact `json:"labels,omitempty"`
}

// Artifact is one file of a deployment and how to get it: in chunks over
// MQTT (ChunkSize and one sha256 per chunk), from URL, or both (chunks
// first).
type Artifact struct {
	SHA256    string   `json:"sha256"`
	Size      int64    `json:"size"`
	URL       string   `json:"url,omitempty"`
	ChunkSize int      `json:"chunk_size,omitempty"`
	Chunks    []string `json:"chunks,omitempty"`
}

// Canary is an image and the label the model must rank first on it.
type Canary struct {
	Image  []byte `json:"image"` // JPEG or PNG bytes, base64 in JSON
	Expect string `json:"expect"`
}

// A Rejection is a deployment refused before or while it was applied; the
// running setup is unchanged. Reason is what the status topic says.
type Rejection struct{ Reason string }

func (r *Rejection) Error() string { return r.Reason }

func reject(format string, args ...any) error {
	return &Rejection{Reason: fmt.Sprintf(format, args...)}
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Open checks an envelope received on a deploy topic: its size, its
// syntax, a signature by one of keys over the manifest's exact bytes, and
// then the manifest's own fields. It returns the manifest and the id of
// the key that signed it. Nothing is trusted before the signature is
// checked: the manifest is parsed only after.
func Open(payload []byte, keys []PublicKey) (*Manifest, string, error) {
	if len(payload) > MaxEnvelope {
		return nil, "", reject("deploy message of %d bytes: larger than %d", len(payload), MaxEnvelope)
	}
	var env Envelope
	if err := strictJSON(payload, &env); err != nil {
		return nil, "", reject("deploy message: not a signed envelope: %v", err)
	}
	if len(env.Manifest) == 0 {
		return nil, "", reject("deploy message: no manifest")
	}
	if len(env.Signatures) == 0 {
		return nil, "", reject("deploy message: unsigned")
	}
	if len(env.Signatures) > MaxSignatures {
		return nil, "", reject("deploy message: %d signatures, at most %d", len(env.Signatures), MaxSignatures)
	}
	signer := ""
	for _, s := range env.Signatures {
		for _, k := range keys {
			if s.Key == k.ID && len(s.Sig) == ed25519.SignatureSize && ed25519.Verify(k.Key, env.Manifest, s.Sig) {
				signer = k.ID
				break
			}
		}
		if signer != "" {
			break
		}
	}
	if signer == "" {
		ids := make([]string, len(env.Signatures))
		for i, s := range env.Signatures {
			ids[i] = fmt.Sprintf("%.16q", s.Key)
		}
		return nil, "", reject("deploy message: no valid signature by a trusted key (signed by %s)", strings.Join(ids, ", "))
	}
	m, err := ParseManifest(env.Manifest)
	if err != nil {
		return nil, signer, err
	}
	return m, signer, nil
}

// ParseManifest parses and checks a manifest's fields. It is only called
// on signed bytes, but checks them as strictly as if they were not: a key
// holder's tool can have bugs too.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := strictJSON(data, &m); err != nil {
		return nil, reject("manifest: %v", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if !idRE.MatchString(m.ID) {
		return reject("manifest: id %.40q: 1 to 128 letters, digits, '.', '_', ':' or '-'", m.ID)
	}
	if m.Version == 0 {
		return reject("manifest %s: version missing (it must be 1 or more)", m.ID)
	}
	if m.Expires.IsZero() {
		return reject("manifest %s: expires missing", m.ID)
	}
	if len(m.Devices)+len(m.Groups) == 0 {
		return reject("manifest %s: no devices or groups: it is for nobody", m.ID)
	}
	for _, d := range append(append([]string{}, m.Devices...), m.Groups...) {
		if !nameRE.MatchString(d) {
			return reject("manifest %s: target %.70q is not a device or group name", m.ID, d)
		}
	}
	if len(m.Devices) > 10000 || len(m.Groups) > 100 {
		return reject("manifest %s: %d devices and %d groups: too many targets", m.ID, len(m.Devices), len(m.Groups))
	}
	if m.Model == nil && m.Config == nil {
		return reject("manifest %s: neither a model nor a config to deploy", m.ID)
	}
	if m.HealthWindow != "" {
		d, err := time.ParseDuration(m.HealthWindow)
		if err != nil || d < 0 || d > 24*time.Hour {
			return reject("manifest %s: health_window %.30q: a duration between 0s and 24h", m.ID, m.HealthWindow)
		}
	}
	if mt := m.Model; mt != nil {
		if !nameRE.MatchString(mt.Slot) {
			return reject("manifest %s: model.slot %.70q is not a model name", m.ID, mt.Slot)
		}
		if mt.Model == nil && !m.Rollback {
			return reject("manifest %s: model.model missing (only a rollback may leave it out)", m.ID)
		}
		if mt.Model == nil && mt.Labels != nil {
			return reject("manifest %s: model.labels without model.model", m.ID)
		}
		if err := mt.Model.check(m.ID, "model.model"); err != nil {
			return err
		}
		if err := mt.Labels.check(m.ID, "model.labels"); err != nil {
			return err
		}
	}
	if err := m.Config.check(m.ID, "config"); err != nil {
		return err
	}
	if m.Config != nil && m.Rollback {
		return reject("manifest %s: a rollback restores a model; a config is rolled back by deploying the old one", m.ID)
	}
	if len(m.Canary) > MaxCanaries {
		return reject("manifest %s: %d canary images, at most %d", m.ID, len(m.Canary), MaxCanaries)
	}
	for i, c := range m.Canary {
		if len(c.Image) == 0 || c.Expect == "" || len(c.Expect) > 256 {
			return reject("manifest %s: canary[%d]: needs an image and an expected label (at most 256 bytes)", m.ID, i)
		}
	}
	if len(m.Canary) > 0 && m.Model == nil {
		return reject("manifest %s: canary images need a model slot to test", m.ID)
	}
	return nil
}

func (a *Artifact) check(id, field string) error {
	if a == nil {
		return nil
	}
	if !hexRE.MatchString(a.SHA256) {
		return reject("manifest %s: %s.sha256 %.70q is not 64 lower-case hex digits", id, field, a.SHA256)
	}
	if a.Size <= 0 {
		return reject("manifest %s: %s.size %d: must be above 0", id, field, a.Size)
	}
	if a.URL == "" && len(a.Chunks) == 0 {
		return reject("manifest %s: %s: neither chunks nor a url to get it from", id, field)
	}
	if a.URL != "" && !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
		return reject("manifest %s: %s.url %.70q: only http:// and https:// are fetched", id, field, a.URL)
	}
	if len(a.Chunks) > 0 {
		if a.ChunkSize < MinChunkSize || a.ChunkSize > MaxChunkSize {
			return reject("manifest %s: %s.chunk_size %d: between %d and %d", id, field, a.ChunkSize, MinChunkSize, MaxChunkSize)
		}
		if len(a.Chunks) > MaxChunks {
			return reject("manifest %s: %s: %d chunks, at most %d", id, field, len(a.Chunks), MaxChunks)
		}
		want := (a.Size + int64(a.ChunkSize) - 1) / int64(a.ChunkSize)
		if int64(len(a.Chunks)) != want {
			return reject("manifest %s: %s: %d chunks of %d bytes do not make %d bytes (%d chunks)", id, field, len(a.Chunks), a.ChunkSize, a.Size, want)
		}
		for i, c := range a.Chunks {
			if !hexRE.MatchString(c) {
				return reject("manifest %s: %s.chunks[%d] is not a sha256", id, field, i)
			}
		}
	}
	return nil
}

// For reports whether the manifest targets device (by name, or through
// one of its groups).
func (m *Manifest) For(device string, groups []string) bool {
	for _, d := range m.Devices {
		if d == device {
			return true
		}
	}
	for _, g := range m.Groups {
		for _, mine := range groups {
			if g == mine {
				return true
			}
		}
	}
	return false
}

// Artifacts lists the manifest's artifacts with their roles.
func (m *Manifest) Artifacts() map[string]*Artifact {
	out := map[string]*Artifact{}
	if m.Model != nil {
		if m.Model.Model != nil {
			out["model"] = m.Model.Model
		}
		if m.Model.Labels != nil {
			out["labels"] = m.Model.Labels
		}
	}
	if m.Config != nil {
		out["config"] = m.Config
	}
	return out
}

// Seal signs manifest bytes with key and wraps them in an envelope.
func Seal(manifest []byte, key PrivateKey) ([]byte, error) {
	env := Envelope{Manifest: manifest, Signatures: []Signature{{Key: key.ID, Sig: ed25519.Sign(key.Key, manifest)}}}
	return json.Marshal(env)
}

// strictJSON decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// hexSHA is a sha256 sum in lower-case hex.
func hexSHA(sum []byte) string { return hex.EncodeToString(sum) }
