package publish

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/infer"
	"github.com/edged-io/edged/internal/mqtttest"
)

// writePKI makes a CA and a server certificate for 127.0.0.1 in dir and
// returns the paths of the CA, the server certificate and its key.
func writePKI(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edged test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

func TestTLSServerVerified(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writePKI(t, dir)
	b := mqtttest.Start(t, "cafile "+ca, "certfile "+cert, "keyfile "+key)
	ctx := context.Background()

	cfg := brokerConfig("ssl://" + b.Addr)
	cfg.TLS.CAFile = ca
	p, err := New(cfg, "tls", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("TLS with the right CA: %v", err)
	}
	if err := p.Publish(ctx, "c", result(1, infer.Label{Label: "x", Score: 1})); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)

	// Without our CA the server cannot be verified: the connection fails.
	cfg = brokerConfig("ssl://" + b.Addr)
	cfg.ConnectTimeout = 2 * time.Second
	p, err = New(cfg, "tls2", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.Connect(ctx); err == nil {
		t.Fatal("connected to a broker whose certificate no trusted CA signed")
	}
}

func TestPasswordAuth(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd not installed")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command(bin, "-b", "-c", pw, "cam", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	b := mqtttest.Start(t, "allow_anonymous false", "password_file "+pw)
	secret := filepath.Join(dir, "secret")
	ctx := context.Background()
	for _, c := range []struct {
		password string
		ok       bool
	}{{"s3cret\n", true}, {"wrong", false}} {
		os.WriteFile(secret, []byte(c.password), 0o600)
		cfg := brokerConfig(b.URL())
		cfg.Username, cfg.PasswordFile, cfg.ConnectTimeout = "cam", secret, 3*time.Second
		p, err := New(cfg, "pw", "b", slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		err = p.Connect(ctx)
		p.Close(ctx)
		if c.ok && err != nil {
			t.Errorf("right password refused: %v", err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "connect")) {
			t.Errorf("wrong password: got %v, want a connection error", err)
		}
	}
}
