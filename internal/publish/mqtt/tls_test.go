package mqtt

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/result"
)

func TestTLSServerVerified(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key, _, _ := writeMutualPKI(t, dir)
	b := mqtttest.Start(t, "cafile "+ca, "certfile "+cert, "keyfile "+key)
	ctx := context.Background()

	cfg := brokerConfig("ssl://" + b.Addr)
	cfg.TLS.CAFile = ca
	p, err := newTest(cfg, "tls", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("TLS with the right CA: %v", err)
	}
	if err := sinkOf(p).Publish(ctx, "c", mkResult(1, result.Label{Label: "x", Score: 1})); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)

	// Without our CA the server cannot be verified: the connection fails.
	cfg = brokerConfig("ssl://" + b.Addr)
	cfg.ConnectTimeout = 2 * time.Second
	p, err = newTest(cfg, "tls2", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.Connect(ctx); err == nil {
		t.Fatal("connected to a broker whose certificate no trusted CA signed")
	}
}

// TestPasswordFile: the password is read from broker.password_file (its
// trailing newline dropped) and accepted; wrong ones are covered by
// TestWrongPasswordRefused.
func TestPasswordFile(t *testing.T) {
	b := passwordBroker(t, "cam", "s3cret")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	cfg := brokerConfig(b.URL())
	cfg.Username, cfg.PasswordFile, cfg.ConnectTimeout = "cam", secret, 5*time.Second
	p, err := newTest(cfg, "pw", "b", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := p.Connect(context.Background()); err != nil {
		t.Errorf("right password from file refused: %v", err)
	}
}
