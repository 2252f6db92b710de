package fleet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wantErr fails unless err is an error whose text mentions want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

func TestKeygen(t *testing.T) {
	name := filepath.Join(t.TempDir(), "keys", "operator")
	pub, err := Keygen(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", name+".key", st.Mode().Perm())
	}
	if pub.File != name+".pub" {
		t.Errorf("File = %q, want %q", pub.File, name+".pub")
	}

	// The files read back as the same key pair.
	rpub, err := ReadPublicKey(name + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if rpub.ID != pub.ID || !bytes.Equal(rpub.Key, pub.Key) {
		t.Errorf("public key read back as %s, written as %s", rpub.ID, pub.ID)
	}
	priv, err := ReadPrivateKey(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if priv.ID != pub.ID {
		t.Errorf("private key's id %s, public key's %s", priv.ID, pub.ID)
	}
	// And what one signs, the other opens.
	if _, signer, err := Open(mustSeal(t, mustJSON(t, testManifest()), priv), []PublicKey{rpub}); err != nil || signer != pub.ID {
		t.Errorf("Open of an envelope signed with the generated key: signer %q, %v", signer, err)
	}

	// A second Keygen under the same name leaves the first key alone.
	before, err := os.ReadFile(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Keygen(name, nil)
	wantErr(t, err, "never overwritten")
	after, err := os.ReadFile(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the existing private key was overwritten")
	}
	if again, err := ReadPublicKey(name + ".pub"); err != nil || again.ID != pub.ID {
		t.Errorf("the existing public key changed: %v, %v", again.ID, err)
	}
}

func TestKeygenDeterministic(t *testing.T) {
	dir := t.TempDir()
	seed := bytes.Repeat([]byte{7}, 32)
	a, err := Keygen(filepath.Join(dir, "a"), bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Keygen(filepath.Join(dir, "b"), bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID {
		t.Errorf("same seed, ids %s and %s", a.ID, b.ID)
	}
	_, err = Keygen(filepath.Join(dir, "c"), bytes.NewReader(nil))
	wantErr(t, err, "keygen")
	if _, err := os.Stat(filepath.Join(dir, "c.key")); err == nil {
		t.Error("a failed Keygen left a key file")
	}
}

func TestReadPrivateKeyRefusesReadableKey(t *testing.T) {
	name := filepath.Join(t.TempDir(), "op")
	if _, err := Keygen(name, nil); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(name+".key", mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPrivateKey(name + ".key")
		wantErr(t, err, "chmod 600")
	}
	if err := os.Chmod(name+".key", 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateKey(name + ".key"); err != nil {
		t.Errorf("a 0400 key: %v", err)
	}
	_, err := ReadPrivateKey(name + ".missing")
	wantErr(t, err, "signing key")
	// A public key where the private one is expected.
	if err := os.Chmod(name+".pub", 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ReadPrivateKey(name + ".pub")
	wantErr(t, err, `"PUBLIC KEY" block where a "PRIVATE KEY" was expected`)
}

func TestReadPublicKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Keygen(filepath.Join(dir, "op"), nil); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "nope.pub"), "trusted key"},
		{"not pem", write("text.pub", []byte("ssh-ed25519 AAAA... me@host\n")), "not a PEM file"},
		{"empty", write("empty.pub", nil), "not a PEM file"},
		{"wrong pem type", write("cert.pub", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ecDER})), `"CERTIFICATE" block where a "PUBLIC KEY" was expected`},
		{"private key", filepath.Join(dir, "op.key"), `"PRIVATE KEY" block`},
		{"ecdsa key", write("ec.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})), "not an ed25519 key"},
		{"garbage der", write("junk.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})), "junk.pub"},
		{"too large", write("big.pub", bytes.Repeat([]byte("#"), maxKeyFile+1)), "not a key file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadPublicKey(c.path)
			wantErr(t, err, c.want)
		})
	}
}

func TestKeyID(t *testing.T) {
	_, a := testKey(1)
	_, b := testKey(2)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a.ID) {
		t.Errorf("KeyID %q is not 16 lower-case hex digits", a.ID)
	}
	if again := KeyID(append(ed25519.PublicKey(nil), a.Key...)); again != a.ID {
		t.Error("KeyID is not stable")
	}
	if a.ID == b.ID {
		t.Errorf("two keys share id %s", a.ID)
	}
	// The id is the first 8 bytes of the sha256 of the raw key.
	sum := sha256.Sum256(a.Key)
	if want := hex.EncodeToString(sum[:8]); a.ID != want {
		t.Errorf("KeyID %s, want %s", a.ID, want)
	}
}

func TestTrustedKeys(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	fileKey, err := Keygen(filepath.Join(dir, "file"), nil)
	if err != nil {
		t.Fatal(err)
	}
	credKey, err := Keygen(filepath.Join(creds, "fleet-key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// systemd names a credential without an extension.
	if err := os.Rename(filepath.Join(creds, "fleet-key.pub"), filepath.Join(creds, "fleet.pub-key")); err != nil {
		t.Fatal(err)
	}

	t.Run("files and credentials", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		keys, err := TrustedKeys([]string{fileKey.File}, []string{"fleet.pub-key"})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0].ID != fileKey.ID || keys[1].ID != credKey.ID {
			t.Fatalf("keys %+v, want %s then %s", keys, fileKey.ID, credKey.ID)
		}
		if keys[1].File != filepath.Join(creds, "fleet.pub-key") {
			t.Errorf("credential's File = %q", keys[1].File)
		}
	})
	t.Run("directory unset", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", "")
		_, err := TrustedKeys(nil, []string{"fleet.pub-key"})
		wantErr(t, err, "$CREDENTIALS_DIRECTORY is not set")
	})
	t.Run("no credentials asked for", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", "")
		keys, err := TrustedKeys([]string{fileKey.File}, nil)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v, %v", keys, err)
		}
	})
	t.Run("missing credential", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		_, err := TrustedKeys(nil, []string{"other"})
		wantErr(t, err, `credential "other"`)
	})
	t.Run("bad file", func(t *testing.T) {
		_, err := TrustedKeys([]string{filepath.Join(dir, "file.key")}, nil)
		wantErr(t, err, "file.key")
	})
}
