package fleet

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PublicKey is a trusted signing key.
type PublicKey struct {
	ID   string // KeyID(Key)
	Key  ed25519.PublicKey
	File string // where it was read from, for messages
}

// PrivateKey is the operator's signing key.
type PrivateKey struct {
	ID  string
	Key ed25519.PrivateKey
}

// KeyID is a short name for a public key: the first 8 bytes of the
// sha256 of its 32 raw bytes, in hex.
func KeyID(k ed25519.PublicKey) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

// maxKeyFile bounds a key file: a PEM key is about 120 bytes.
const maxKeyFile = 16 << 10

// Keygen writes a new key pair: name+".key" (PKCS #8 PEM, mode 0600,
// refusing to overwrite) and name+".pub" (PKIX PEM). Both are what
// openssl reads and writes for ed25519.
func Keygen(name string, random io.Reader) (PublicKey, error) {
	if random == nil {
		random = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return PublicKey{}, fmt.Errorf("keygen: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return PublicKey{}, fmt.Errorf("keygen: %w", err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PublicKey{}, fmt.Errorf("keygen: %w", err)
	}
	if dir := filepath.Dir(name); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return PublicKey{}, fmt.Errorf("keygen: %w", err)
		}
	}
	f, err := os.OpenFile(name+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return PublicKey{}, fmt.Errorf("keygen: %w (an existing key is never overwritten)", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return PublicKey{}, fmt.Errorf("keygen: write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return PublicKey{}, fmt.Errorf("keygen: write %s: %w", name+".key", err)
	}
	if err := os.WriteFile(name+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		return PublicKey{}, fmt.Errorf("keygen: %w", err)
	}
	return PublicKey{ID: KeyID(pub), Key: pub, File: name + ".pub"}, nil
}

func readPEM(path, want string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a key file", path, maxKeyFile)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: not a PEM file", path)
	}
	if b.Type != want {
		return nil, fmt.Errorf("%s: a PEM %q block where a %q was expected", path, b.Type, want)
	}
	return b.Bytes, nil
}

// ReadPublicKey reads an ed25519 public key (PKIX PEM) from path.
func ReadPublicKey(path string) (PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return PublicKey{}, fmt.Errorf("trusted key: %w", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return PublicKey{}, fmt.Errorf("trusted key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("trusted key %s: a %T, not an ed25519 key", path, k)
	}
	return PublicKey{ID: KeyID(pub), Key: pub, File: path}, nil
}

// ReadPrivateKey reads an ed25519 private key (PKCS #8 PEM) from path,
// refusing one that others can read.
func ReadPrivateKey(path string) (PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return PrivateKey{}, fmt.Errorf("signing key %s: mode %v lets others read it; chmod 600 it", path, st.Mode().Perm())
	}
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return PrivateKey{}, fmt.Errorf("signing key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return PrivateKey{}, fmt.Errorf("signing key %s: a %T, not an ed25519 key", path, k)
	}
	return PrivateKey{ID: KeyID(priv.Public().(ed25519.PublicKey)), Key: priv}, nil
}

// TrustedKeys reads the public keys of files and of the systemd
// credentials named by creds (under $CREDENTIALS_DIRECTORY).
func TrustedKeys(files, creds []string) ([]PublicKey, error) {
	var keys []PublicKey
	for _, f := range files {
		k, err := ReadPublicKey(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(creds) > 0 {
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return nil, errors.New("fleet.trusted_key_credentials: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)")
		}
		for _, c := range creds {
			k, err := ReadPublicKey(filepath.Join(dir, c))
			if err != nil {
				return nil, fmt.Errorf("credential %q: %w", c, err)
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}
