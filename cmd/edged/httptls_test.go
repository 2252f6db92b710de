package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/edged-io/edged/internal/samplevideo"
)

// http.tls_cert and tls_key serve HTTPS; off loopback with a token every
// path needs it, /healthz too.
func TestHTTPSWithToken(t *testing.T) {
	if testing.Short() {
		t.Skip("runs edged")
	}
	ip := nonLoopbackIP(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edged test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	writeText(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeText(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	const token = "https-test-token-abcdef"
	writeText(t, filepath.Join(dir, "token"), token)
	video := filepath.Join(dir, "v.avi")
	if err := samplevideo.Write(video, []string{photo(t, "orange.jpg")}, samplevideo.Options{Width: 224, Height: 224, FPS: 5, FramesPerPhoto: 5}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "edged.yaml")
	writeText(t, cfg, fmt.Sprintf(`http: {addr: "%s", token_file: token, tls_cert: cert.pem, tls_key: key.pem}
cameras:
  - {name: cam, source: %s, fps: 5, loop: true}
`, net.JoinHostPort(ip, "0"), video))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, log := start(t, ctx, nil, "run", "--config", cfg, "--no-mqtt")
	var addr string
	re := regexp.MustCompile(`"msg":"serving /metrics, /healthz and /readyz","addr":"([^"]+)"`)
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no address:\n%s", log)
	}
	pool := x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	get := func(path, tok string) int {
		req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get("/healthz", ""); code != http.StatusUnauthorized {
		t.Errorf("/healthz without the token off loopback: %d, want 401", code)
	}
	if code := get("/healthz", token); code != 200 {
		t.Errorf("/healthz with the token over HTTPS: %d", code)
	}
	if code := get("/api/samples", "wrong-token-wrong-token"); code != http.StatusUnauthorized {
		t.Errorf("/api/samples with a wrong token: %d", code)
	}
	cmd.Process.Kill()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
