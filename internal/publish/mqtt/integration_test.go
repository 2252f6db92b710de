package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-io/edged/internal/mqtttest"
	"github.com/edged-io/edged/internal/publish"
	"github.com/edged-io/edged/internal/result"
)

// pahoSub subscribes with an independent paho client at QoS 1 and returns
// the messages it receives, with their QoS and retained flags.
func pahoSub(t *testing.T, addr, topic string) <-chan paho.Message {
	t.Helper()
	msgs := make(chan paho.Message, 100)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID("sub-" + publish.NewBootID()).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { msgs <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	return msgs
}

// next returns the next message, failing the test if none comes within 10s.
func next(t *testing.T, msgs <-chan paho.Message, what string) paho.Message {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message: %s", what)
		return nil
	}
}

// TestAvailabilityAndQoS1 checks, with a real mosquitto and a paho
// subscriber that arrives late, that "online" is retained, that results
// arrive at QoS 1 with consecutive seq, and that "offline" is retained
// after Close.
func TestAvailabilityAndQoS1(t *testing.T) {
	b := mqtttest.Start(t)
	ctx := context.Background()
	early := pahoSub(t, b.Addr, "edged/dev9/status")
	p, err := newTest(brokerConfig(b.URL()), "dev9", "boot9", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// Once the early subscriber has "online", the broker holds it; a
	// subscriber arriving now gets it only because it is retained.
	if m := next(t, early, "online"); string(m.Payload()) != "online" {
		t.Fatalf("first status %q, want online", m.Payload())
	}
	status := pahoSub(t, b.Addr, "edged/dev9/status")
	m := next(t, status, "retained online")
	if string(m.Payload()) != "online" || !m.Retained() {
		t.Fatalf("status %q retained=%v, want a retained \"online\"", m.Payload(), m.Retained())
	}

	results := pahoSub(t, b.Addr, "edged/dev9/front/result")
	for i := 1; i <= 3; i++ {
		if err := sinkOf(p).Publish(ctx, "front", mkResult(uint64(i*10), result.Label{Label: "tabby", Index: 281, Score: 0.75})); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		m := next(t, results, "result")
		var pl publish.Payload
		if err := json.Unmarshal(m.Payload(), &pl); err != nil {
			t.Fatalf("payload %s: %v", m.Payload(), err)
		}
		if m.Qos() != 1 || m.Topic() != "edged/dev9/front/result" {
			t.Errorf("message on %q at QoS %d, want edged/dev9/front/result at QoS 1", m.Topic(), m.Qos())
		}
		if pl.V != 1 || pl.Seq != uint64(i) || pl.Frame != uint64(i*10) || pl.Device != "dev9" || pl.Camera != "front" || pl.Boot != "boot9" ||
			len(pl.Labels) != 1 || pl.Labels[0] != (result.Label{Label: "tabby", Index: 281, Score: 0.75}) {
			t.Errorf("result %d: %+v", i, pl)
		}
	}

	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if m := next(t, status, "offline on Close"); string(m.Payload()) != "offline" {
		t.Fatalf("status after Close %q, want offline", m.Payload())
	}
	late := pahoSub(t, b.Addr, "edged/dev9/status")
	if m := next(t, late, "retained offline"); string(m.Payload()) != "offline" || !m.Retained() {
		t.Fatalf("status for a late subscriber %q retained=%v, want a retained \"offline\"", m.Payload(), m.Retained())
	}
}

// TestWrongPasswordRefused: the broker's refusal comes back from Connect
// at once, names the reason and wraps ErrRefused (the connect timeout is
// long, so a test that waited for it would not pass).
func TestWrongPasswordRefused(t *testing.T) {
	b := passwordBroker(t, "cam", "right")
	cases := []struct{ user, password string }{{"cam", "wrong"}, {"nobody", "right"}, {"", ""}}
	for _, c := range cases {
		cfg := brokerConfig(b.URL())
		cfg.Username, cfg.Password, cfg.ConnectTimeout = c.user, c.password, time.Minute
		p, err := newTest(cfg, "pw", "b", quietLog())
		if err != nil {
			t.Fatal(err)
		}
		err = p.Connect(context.Background())
		p.Close(context.Background())
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not Authorized") {
			t.Errorf("user %q password %q: got %v, want a refusal saying not Authorized", c.user, c.password, err)
		}
	}
}

// passwordBroker starts mosquitto accepting only user with password.
func passwordBroker(t *testing.T, user, password string) *mqtttest.Broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
	}
	pw := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(bin, "-b", "-c", pw, user, password).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	return mqtttest.Start(t, "allow_anonymous false", "password_file "+pw)
}

// writeMutualPKI makes a CA, a server certificate for 127.0.0.1 and a
// client certificate, all signed by the CA, and returns their paths.
func writeMutualPKI(t *testing.T, dir string) (ca, srvCert, srvKey, cliCert, cliKey string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edged mutual CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, name string) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: ips,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", keyDER)
	}
	ca = write("ca.pem", "CERTIFICATE", caDER)
	srvCert, srvKey = leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, "server")
	cliCert, cliKey = leaf(3, "edged-camera", x509.ExtKeyUsageClientAuth, nil, "client")
	return
}

// TestMutualTLS: a broker that requires client certificates accepts
// edged's and refuses a client without one.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, srvCert, srvKey, cliCert, cliKey := writeMutualPKI(t, dir)
	b := mqtttest.Start(t, "cafile "+ca, "certfile "+srvCert, "keyfile "+srvKey, "require_certificate true")
	ctx := context.Background()

	cfg := brokerConfig("ssl://" + b.Addr)
	cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile = ca, cliCert, cliKey
	p, err := newTest(cfg, "mtls", "b", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	if err := sinkOf(p).Publish(ctx, "c", mkResult(1, result.Label{Label: "x", Score: 1})); err != nil {
		t.Fatalf("publish over mutual TLS: %v", err)
	}
	p.Close(ctx)

	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	cfg.ConnectTimeout = 2 * time.Second
	p, err = newTest(cfg, "mtls2", "b", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.Connect(ctx); err == nil {
		t.Fatal("connected without a client certificate to a broker that requires one")
	}
}

// nonLoopbackIPv4 returns an address of this machine that is not loopback.
func nonLoopbackIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address")
	return ""
}

// TestPlaintextPasswordOptIn: a real mosquitto with a password also listens
// on a non-loopback address. Over plain TCP there, edged refuses to send
// the password by default, and connects and publishes once
// broker.allow_plaintext_password says the network is trusted.
func TestPlaintextPasswordOptIn(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
	}
	pw := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(bin, "-b", "-c", pw, "cam", "s3cret-plain").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	port := mqtttest.FreePort(t)
	remote := net.JoinHostPort(ip, fmt.Sprint(port))
	mqtttest.Start(t, "allow_anonymous false", "password_file "+pw, fmt.Sprintf("listener %d %s", port, ip))
	mqtttest.WaitListening(t, remote, 5*time.Second)

	cfg := brokerConfig("tcp://" + remote)
	cfg.Username, cfg.Password = "cam", "s3cret-plain"
	if _, err := newTest(cfg, "plain", "b", quietLog()); err == nil || !strings.Contains(err.Error(), "allow_plaintext_password") {
		t.Fatalf("default: got %v, want a refusal naming broker.allow_plaintext_password", err)
	}
	cfg.AllowPlaintextPassword = true
	p, err := newTest(cfg, "plain", "b", quietLog())
	if err != nil {
		t.Fatalf("with allow_plaintext_password: %v", err)
	}
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("connect to %s with allow_plaintext_password: %v", remote, err)
	}
}
