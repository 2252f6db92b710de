package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/publish"
)

// These tests drive the Publisher through the client seam. What they check
// is the publisher's own logic (options, sequence numbers, errors, the
// shutdown order); delivery through a real broker is tested against
// mosquitto in publish_test.go, tls_test.go and integration_test.go.

// token is an paho.Token the test completes.
type token struct {
	done chan struct{}
	err  error
}

func newToken(err error, complete bool) *token {
	t := &token{done: make(chan struct{}), err: err}
	if complete {
		close(t.done)
	}
	return t
}

func (t *token) Wait() bool { <-t.done; return true }
func (t *token) WaitTimeout(d time.Duration) bool {
	select {
	case <-t.done:
		return true
	case <-time.After(d):
		return false
	}
}
func (t *token) Done() <-chan struct{} { return t.done }
func (t *token) Error() error          { return t.err }

// sent is one Publish call the recording client saw.
type sent struct {
	topic    string
	qos      byte
	retained bool
	payload  string
}

// recorder is a client that records publishes; the next tokens it returns
// are set by the test.
type recorder struct {
	mu           sync.Mutex
	opts         *paho.ClientOptions
	sent         []sent
	open         bool
	connectTok   *token
	publishTok   func() *token
	disconnected int
}

func (r *recorder) Connect() paho.Token {
	if r.connectTok != nil {
		return r.connectTok
	}
	r.open = true
	r.opts.OnConnect(nil) // as paho does once connected
	return newToken(nil, true)
}

func (r *recorder) Publish(topic string, qos byte, retained bool, payload any) paho.Token {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s string
	switch p := payload.(type) {
	case string:
		s = p
	case []byte:
		s = string(p)
	}
	r.sent = append(r.sent, sent{topic, qos, retained, s})
	if r.publishTok != nil {
		return r.publishTok()
	}
	return newToken(nil, true)
}

func (r *recorder) Subscribe(string, byte, paho.MessageHandler) paho.Token {
	return newToken(nil, true)
}

func (r *recorder) Unsubscribe(...string) paho.Token { return newToken(nil, true) }

func (r *recorder) IsConnectionOpen() bool { return r.open }
func (r *recorder) Disconnect(uint)        { r.disconnected++; r.open = false }

func (r *recorder) messages() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.sent...)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newRecorded returns a publisher for cfg whose client is a recorder.
func newRecorded(t *testing.T, cfg config.Broker) (*Publisher, *recorder) {
	t.Helper()
	rec := &recorder{}
	p, err := newPublisher(cfg, "dev", quietLog(), func(o *paho.ClientOptions) mqttClient {
		rec.opts = o
		return rec
	})
	if err != nil {
		t.Fatal(err)
	}
	sinks.Store(p, publish.NewSink(publish.Identity{Device: "dev", Boot: "boot", TopicPrefix: cfg.TopicPrefix}, p))
	return p, rec
}

func TestClientOptions(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	credDir := filepath.Join(dir, "creds")
	if err := os.Mkdir(credDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(credDir, "mqtt-password"), []byte("from-systemd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", credDir)
	ca, _, _, _, _ := writeMutualPKI(t, dir)

	cases := []struct {
		name       string
		edit       func(*config.Broker)
		clientID   string
		username   string
		password   string
		tls        bool
		serverName string
	}{
		{name: "defaults", clientID: "edged-dev"},
		{name: "explicit client id", edit: func(c *config.Broker) { c.ClientID = "cam-7" }, clientID: "cam-7"},
		{name: "inline password", edit: func(c *config.Broker) { c.Username, c.Password = "u", "inline" },
			clientID: "edged-dev", username: "u", password: "inline"},
		{name: "password file, line end trimmed", edit: func(c *config.Broker) { c.Username, c.PasswordFile = "u", pwFile },
			clientID: "edged-dev", username: "u", password: "from-file"},
		{name: "systemd credential", edit: func(c *config.Broker) { c.PasswordCredential = "mqtt-password" },
			clientID: "edged-dev", password: "from-systemd"},
		{name: "tls with a CA file", edit: func(c *config.Broker) {
			c.URL, c.TLS.CAFile, c.TLS.ServerName = "ssl://broker.example:8883", ca, "broker.example"
		}, clientID: "edged-dev", tls: true, serverName: "broker.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := brokerConfig("tcp://127.0.0.1:1883")
			if c.edit != nil {
				c.edit(&cfg)
			}
			_, rec := newRecorded(t, cfg)
			o := rec.opts
			if o.ClientID != c.clientID || o.Username != c.username || o.Password != c.password {
				t.Errorf("client id %q, user %q, password %q; want %q, %q, %q", o.ClientID, o.Username, o.Password, c.clientID, c.username, c.password)
			}
			if o.WillTopic != "edged/dev/status" || string(o.WillPayload) != "offline" || !o.WillRetained || o.WillQos != 1 || !o.WillEnabled {
				t.Errorf("will: topic %q payload %q retained %v qos %d enabled %v; want a retained QoS 1 \"offline\" on edged/dev/status",
					o.WillTopic, o.WillPayload, o.WillRetained, o.WillQos, o.WillEnabled)
			}
			if !o.AutoReconnect || !o.ConnectRetry {
				t.Errorf("auto reconnect %v, connect retry %v; want both on", o.AutoReconnect, o.ConnectRetry)
			}
			if got := o.TLSConfig != nil && o.TLSConfig.RootCAs != nil; got != c.tls {
				t.Errorf("TLS with a root pool: %v, want %v", got, c.tls)
			}
			if c.tls && (o.TLSConfig.ServerName != c.serverName || o.TLSConfig.InsecureSkipVerify || o.TLSConfig.MinVersion < tls.VersionTLS12) {
				t.Errorf("TLS config %+v: want server name %q, verification on, TLS 1.2 or later", o.TLSConfig, c.serverName)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	cases := []struct {
		name string
		edit func(*config.Broker)
		want string
	}{
		{"no url", func(c *config.Broker) { c.URL = "" }, "broker url is empty"},
		{"missing password file", func(c *config.Broker) { c.PasswordFile = filepath.Join(dir, "nope") }, "broker.password_file"},
		{"credential outside systemd", func(c *config.Broker) {
			c.PasswordCredential = "pw"
		}, "$CREDENTIALS_DIRECTORY is not set"},
		{"password in clear to a remote host", func(c *config.Broker) { c.URL, c.Password = "tcp://192.0.2.1:1883", "x" }, "refusing to send a password"},
		{"missing CA file", func(c *config.Broker) { c.URL, c.TLS.CAFile = "ssl://h:8883", filepath.Join(dir, "nope.pem") }, "broker.tls.ca_file"},
		{"CA file without PEM", func(c *config.Broker) { c.URL, c.TLS.CAFile = "ssl://h:8883", notPEM }, "no PEM certificates"},
		{"missing client certificate", func(c *config.Broker) {
			c.URL, c.TLS.CertFile, c.TLS.KeyFile = "ssl://h:8883", filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
		}, "broker.tls.cert_file/key_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", "")
			cfg := brokerConfig("tcp://127.0.0.1:1883")
			c.edit(&cfg)
			_, err := newTest(cfg, "dev", "boot", quietLog())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestSeqPerCameraAndTopics(t *testing.T) {
	p, rec := newRecorded(t, brokerConfig("tcp://127.0.0.1:1883"))
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	order := []string{"front", "back", "front", "front", "back"}
	for i, cam := range order {
		if err := sinkOf(p).Publish(ctx, cam, mkResult(uint64(100+i))); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]uint64{"front": {1, 2, 3}, "back": {1, 2}}
	got := map[string][]uint64{}
	msgs := rec.messages()
	if len(msgs) == 0 || msgs[0] != (sent{"edged/dev/status", 1, true, "online"}) {
		t.Fatalf("messages %v: want a retained QoS 1 online on edged/dev/status first", msgs)
	}
	for _, m := range msgs[1:] {
		var pl publish.Payload
		if err := json.Unmarshal([]byte(m.payload), &pl); err != nil {
			t.Fatalf("%s: %v", m.payload, err)
		}
		if m.topic != "edged/dev/"+pl.Camera+"/result" || m.qos != 1 || m.retained {
			t.Errorf("camera %s published on %q qos %d retained %v; want edged/dev/%s/result, qos 1, not retained", pl.Camera, m.topic, m.qos, m.retained, pl.Camera)
		}
		got[pl.Camera] = append(got[pl.Camera], pl.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seq per camera %v, want %v", got, want)
	}
}

// TestFailedPublishLeavesAGap: a result the broker never acknowledged
// keeps its sequence number, so subscribers see the loss as a gap.
func TestFailedPublishLeavesAGap(t *testing.T) {
	p, rec := newRecorded(t, brokerConfig("tcp://127.0.0.1:1883"))
	ctx := context.Background()
	if err := p.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("connection reset")
	calls := 0
	rec.publishTok = func() *token {
		calls++
		if calls == 2 {
			return newToken(fail, true)
		}
		return newToken(nil, true)
	}
	var errs []error
	for i := 0; i < 3; i++ {
		errs = append(errs, sinkOf(p).Publish(ctx, "c", mkResult(uint64(i))))
	}
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], fail) || !strings.Contains(errs[1].Error(), "edged/dev/c/result") {
		t.Fatalf("errors %v: want only the second, wrapping %q and naming the topic", errs, fail)
	}
	var seqs []uint64
	for _, m := range rec.messages()[1:] { // after "online"
		var pl publish.Payload
		json.Unmarshal([]byte(m.payload), &pl)
		seqs = append(seqs, pl.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Errorf("seqs %v, want [1 2 3]", seqs)
	}
}

func TestPublishWaitsForAckOrContext(t *testing.T) {
	p, rec := newRecorded(t, brokerConfig("tcp://127.0.0.1:1883"))
	if err := p.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.publishTok = func() *token { return newToken(nil, false) } // never acknowledged
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sinkOf(p).Publish(ctx, "c", mkResult(1)) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled once the context ends", err)
	}
}

// TestPublishBeforeFirstConnection: a result waits for the first
// connection rather than going to paho, which would drop it and never
// complete its token; Close and the context both end the wait.
func TestPublishBeforeFirstConnection(t *testing.T) {
	p, rec := newRecorded(t, brokerConfig("tcp://127.0.0.1:1883"))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sinkOf(p).Publish(ctx, "c", mkResult(1)) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "first connection") {
		t.Fatalf("got %v, want context.Canceled while waiting for the first connection", err)
	}
	go func() { errc <- sinkOf(p).Publish(context.Background(), "c", mkResult(2)) }()
	p.Close(context.Background())
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("got %v, want a closed error once Close runs", err)
	}
	if n := len(rec.messages()); n != 0 {
		t.Errorf("%d messages reached the client before any connection, want 0", n)
	}
}

func TestCloseOrder(t *testing.T) {
	cases := []struct {
		name     string
		open     bool
		wantSent []string
	}{
		{"connected: offline, then disconnect", true, []string{"edged/dev/status offline retained"}},
		{"connection down: the will already said offline", false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, rec := newRecorded(t, brokerConfig("tcp://127.0.0.1:1883"))
			rec.open = c.open
			ctx := context.Background()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			var got []string
			for _, m := range rec.messages() {
				s := m.topic + " " + m.payload
				if m.retained {
					s += " retained"
				}
				got = append(got, s)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.wantSent) || rec.disconnected != 1 {
				t.Errorf("sent %q, disconnected %d times; want %q and once", got, rec.disconnected, c.wantSent)
			}
			if err := sinkOf(p).Publish(ctx, "c", mkResult(1)); err == nil || !strings.Contains(err.Error(), "closed") {
				t.Errorf("Publish after Close: %v, want a closed error", err)
			}
		})
	}
}

func TestConnectReportsWhy(t *testing.T) {
	refusal := fmt.Errorf("%w : %w", packets.ErrorRefusedNotAuthorised, errors.New("rc 5"))
	network := fmt.Errorf("%w : %w", packets.ErrorNetworkError, errors.New("dial tcp: connection refused"))
	cases := []struct {
		name    string
		fail    error
		refused bool
		want    string
	}{
		{"wrong password returns at once", refusal, true, "not Authorized"},
		{"unreachable broker returns after the first failed attempt", network, false, "network Error : dial tcp: connection refused (retrying in the background)"},
		{"no attempt finished waits for the timeout", nil, false, "no connection within 200ms (retrying in the background)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := brokerConfig("tcp://127.0.0.1:1883")
			cfg.ConnectTimeout = 200 * time.Millisecond
			p, rec := newRecorded(t, cfg)
			rec.connectTok = newToken(nil, false) // paho keeps retrying
			if c.fail != nil {
				// What paho's connecting goroutine reports after an attempt.
				p.notified(nil, paho.ConnectionNotificationFailed{Reason: c.fail})
			}
			err := p.Connect(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if errors.Is(err, ErrRefused) != c.refused {
				t.Errorf("errors.Is(err, ErrRefused) = %v, want %v", !c.refused, c.refused)
			}
		})
	}
}

func TestIsRefusal(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{packets.ErrorRefusedBadUsernameOrPassword, true},
		{fmt.Errorf("x: %w", packets.ErrorRefusedNotAuthorised), true},
		{packets.ErrorRefusedIDRejected, true},
		{fmt.Errorf("%w : %w", packets.ErrorNetworkError, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{fmt.Errorf("%w : %w", packets.ErrorNetworkError, x509.HostnameError{Host: "h", Certificate: &x509.Certificate{}}), true},
		{packets.ErrorRefusedServerUnavailable, false},
		{fmt.Errorf("%w : %w", packets.ErrorNetworkError, errors.New("i/o timeout")), false},
	}
	for _, c := range cases {
		if got := isRefusal(c.err); got != c.want {
			t.Errorf("isRefusal(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
