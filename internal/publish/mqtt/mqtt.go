// Package mqtt is edged's MQTT client (paho): it connects with the
// broker.* options, keeps <prefix>/<device>/status online (retained, with
// a Last Will), and publishes messages at the configured QoS, waiting for
// the broker's acknowledgement. It is a publish.Output and the persistent
// queue's Sender.
package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/edged-io/edged/internal/config"
	"github.com/edged-io/edged/internal/publish"
)

// ErrRefused marks a connection the broker or its certificate refused
// (wrong user name or password, not authorised, an unverifiable server
// certificate): retrying will not help until the configuration changes.
// Connect's error wraps it; test with errors.Is.
var ErrRefused = errors.New("refused")

// mqttClient is the part of paho's client the publisher uses. It is the
// seam for unit tests; production code and integration tests use paho.
type mqttClient interface {
	Connect() paho.Token
	Publish(topic string, qos byte, retained bool, payload any) paho.Token
	Subscribe(topic string, qos byte, callback paho.MessageHandler) paho.Token
	Unsubscribe(topics ...string) paho.Token
	IsConnectionOpen() bool
	Disconnect(quiesce uint)
}

// Publisher publishes results to an MQTT broker.
type Publisher struct {
	cfg    config.Broker
	device string
	log    *slog.Logger
	client mqttClient
	status string // <prefix>/<device>/status

	up     chan struct{} // closed once the first connection is made
	upOnce sync.Once
	done   chan struct{} // closed by Close

	connecting atomic.Bool // Connect is waiting: it reports failures itself
	refused    chan error  // a refusal seen while connecting (capacity 1)
	failed     chan error  // any other failed attempt while connecting (capacity 1)
	failMu     sync.Mutex
	lastFail   error // the latest failed connection attempt; nil after success
	loggedFail string

	mu     sync.Mutex
	closed bool
	subs   map[string]func(topic string, payload []byte) // filter → handler, subscribed again on every connection
	// onConnect are called (each on a goroutine of its own) after every
	// connection, the first one included.
	onConnect []func()
}

// New prepares a publisher for device on the broker in cfg; Connect
// connects.
func New(cfg config.Broker, device string, log *slog.Logger) (*Publisher, error) {
	return newPublisher(cfg, device, log, func(o *paho.ClientOptions) mqttClient { return paho.NewClient(o) })
}

// newPublisher is New with the client factory as a parameter.
func newPublisher(cfg config.Broker, device string, log *slog.Logger, newClient func(*paho.ClientOptions) mqttClient) (*Publisher, error) {
	c, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	password := c.password
	if c.plaintext {
		log.Warn("sending the broker password over plain TCP (broker.allow_plaintext_password)", "broker", cfg.URL)
	}
	p := &Publisher{cfg: cfg, device: device, log: log.With("broker", cfg.URL),
		status:  publish.Identity{Device: device, TopicPrefix: cfg.TopicPrefix}.StatusTopic(),
		refused: make(chan error, 1), failed: make(chan error, 1), up: make(chan struct{}), done: make(chan struct{})}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = "edged-" + device
	}
	opts := paho.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(clientID).
		SetUsername(cfg.Username).
		SetPassword(password).
		SetKeepAlive(cfg.KeepAlive).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30*time.Second).
		SetCleanSession(true).
		SetOrderMatters(true).
		SetBinaryWill(p.status, []byte("offline"), 1, true).
		SetOnConnectHandler(func(paho.Client) {
			p.log.Info("connected to broker")
			p.client.Publish(p.status, 1, true, "online")
			p.resubscribe()
			p.upOnce.Do(func() { close(p.up) })
			p.mu.Lock()
			hooks := append([]func(){}, p.onConnect...)
			p.mu.Unlock()
			for _, h := range hooks {
				go h()
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			p.log.Warn("connection to broker lost", "err", err)
		}).
		SetConnectionNotificationHandler(p.notified)
	if c.tls != nil {
		opts.SetTLSConfig(c.tls)
	}
	p.client = newClient(opts)
	return p, nil
}

// connection is what New reads and checks of the broker settings before it
// builds a client: the password, the TLS configuration.
type connection struct {
	password  string
	plaintext bool        // a password goes over plain TCP by broker.allow_plaintext_password
	tls       *tls.Config // nil without TLS
}

// prepare reads the password and the TLS files and applies the rules on
// them; New and Check share it.
func prepare(cfg config.Broker) (connection, error) {
	if cfg.URL == "" {
		return connection{}, errors.New("publish: broker url is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return connection{}, fmt.Errorf("broker url %q: %w", cfg.URL, err)
	}
	var c connection
	if c.password, err = readPassword(cfg); err != nil {
		return connection{}, err
	}
	secure := u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts" || u.Scheme == "wss"
	if c.password != "" && !secure && !isLoopback(u.Hostname()) {
		if !cfg.AllowPlaintextPassword {
			return connection{}, fmt.Errorf("broker %s: refusing to send a password over plain TCP to a non-loopback host; use ssl:// (or set broker.allow_plaintext_password on a trusted network)", cfg.URL)
		}
		c.plaintext = true
	}
	if secure {
		if c.tls, err = tlsConfig(cfg.TLS); err != nil {
			return connection{}, err
		}
	}
	return c, nil
}

// Check runs New's checks of cfg without connecting: the password file or
// credential can be read, the TLS files load, and no password would go
// over plain TCP unless allowed (edged check-config).
func Check(cfg config.Broker) error {
	_, err := prepare(cfg)
	return err
}

// notified records the outcome of each connection attempt. paho calls it
// from its connecting goroutine, so it never blocks.
func (p *Publisher) notified(_ paho.Client, n paho.ConnectionNotification) {
	switch n := n.(type) {
	case paho.ConnectionNotificationConnected:
		p.failMu.Lock()
		p.lastFail, p.loggedFail = nil, ""
		p.failMu.Unlock()
	case paho.ConnectionNotificationFailed:
		err := n.Reason
		p.failMu.Lock()
		p.lastFail = err
		repeat := err.Error() == p.loggedFail
		p.loggedFail = err.Error()
		p.failMu.Unlock()
		ch := p.failed
		if isRefusal(err) {
			ch = p.refused
		}
		select {
		case ch <- err:
		default:
		}
		// While Connect waits it returns the failure; afterwards the
		// background retries are logged once per distinct cause.
		if p.connecting.Load() || repeat {
			p.log.Debug("broker connection attempt failed", "err", err)
		} else {
			p.log.Warn("broker connection attempt failed; retrying", "err", err)
		}
	}
}

// isRefusal reports whether err is a refusal that retrying cannot fix:
// the broker rejected the credentials or client id, or the server's
// certificate could not be verified.
func isRefusal(err error) bool {
	for _, r := range []error{packets.ErrorRefusedBadUsernameOrPassword, packets.ErrorRefusedNotAuthorised,
		packets.ErrorRefusedIDRejected, packets.ErrorRefusedBadProtocolVersion} {
		if errors.Is(err, r) {
			return true
		}
	}
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// lastFailure returns the latest failed connection attempt, or nil.
func (p *Publisher) lastFailure() error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.lastFail
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readPassword returns the broker password from the file, the systemd
// credential, or the config, in that order.
func readPassword(cfg config.Broker) (string, error) {
	switch {
	case cfg.PasswordFile != "":
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("broker.password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case cfg.PasswordCredential != "":
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", fmt.Errorf("broker.password_credential %q: $CREDENTIALS_DIRECTORY is not set (not run by systemd with LoadCredential=)", cfg.PasswordCredential)
		}
		b, err := os.ReadFile(filepath.Join(dir, cfg.PasswordCredential))
		if err != nil {
			return "", fmt.Errorf("broker.password_credential: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return cfg.Password, nil
}

// CertPool reads the PEM certificates of a CA file (the broker's, an
// operator tool's, the fleet's artifact server's).
func CertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates in it", path)
	}
	return pool, nil
}

func tlsConfig(c config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pool, err := CertPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("broker.tls.ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker.tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Connect connects to the broker: it returns nil once connected, or an
// error once the first attempt has failed or the connect timeout has
// passed, whichever comes first. The client keeps retrying in the
// background after a failure, so results need not wait for the broker:
// a broker that is down (connection refused at once) costs the start no
// time, one that does not answer costs at most the connect timeout. A
// refusal (wrong credentials, an unverifiable server certificate)
// returns an error wrapping ErrRefused and the broker's reason: retrying
// cannot fix it.
func (p *Publisher) Connect(ctx context.Context) error {
	p.connecting.Store(true)
	defer p.connecting.Store(false)
	timer := time.NewTimer(p.cfg.ConnectTimeout)
	defer timer.Stop()
	tok := p.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("connect to %s: %w", p.cfg.URL, err)
		}
		return nil
	case err := <-p.refused:
		// A refusal ends the run (the daemon does not retry what only a
		// configuration change can fix): say so, not "still retrying".
		return fmt.Errorf("connect to %s: %w by the broker: %w (fix the credentials or certificates)", p.cfg.URL, ErrRefused, err)
	case err := <-p.failed:
		return fmt.Errorf("connect to %s: %w (retrying in the background)", p.cfg.URL, err)
	case <-timer.C:
		if err := p.lastFailure(); err != nil {
			return fmt.Errorf("connect to %s: no connection within %v (retrying in the background): %w", p.cfg.URL, p.cfg.ConnectTimeout, err)
		}
		return fmt.Errorf("connect to %s: no connection within %v (retrying in the background)", p.cfg.URL, p.cfg.ConnectTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Write publishes m's payload on m.Topic (a copy: paho keeps it until the
// broker acknowledges), waiting as Send does.
func (p *Publisher) Write(ctx context.Context, m publish.Message) error {
	return p.Send(ctx, m.Topic, append([]byte(nil), m.Payload...), m.Retain)
}

// Send publishes an already encoded payload on topic at the configured QoS,
// retained when retain or broker.retain is set,
// and waits for the broker's acknowledgement (PUBACK at QoS 1) or ctx. The
// persistent queue (internal/outbox) delivers through it. Before the first
// connection it waits for one: paho drops messages stored before a clean
// session's first connection without completing their tokens.
func (p *Publisher) Send(ctx context.Context, topic string, payload []byte, retain bool) error {
	select {
	case <-p.up:
	default:
		select {
		case <-p.up:
		case <-p.done:
			return errors.New("publish: publisher is closed")
		case <-ctx.Done():
			return fmt.Errorf("publish to %s: waiting for the first connection to %s: %w", topic, p.cfg.URL, ctx.Err())
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("publish: publisher is closed")
	}
	tok := p.client.Publish(topic, byte(p.cfg.QoS), retain || p.cfg.Retain, payload)
	p.mu.Unlock()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish to %s: %w", topic, ctx.Err())
	}
}

// Subscribe calls handle with the payload of each message on topic, from
// the next connection on (and the current one, if open): the session is
// clean, so every connection subscribes again. handle runs on paho's
// goroutine and must not block.
func (p *Publisher) Subscribe(topic string, handle func(payload []byte)) {
	p.Watch(topic, func(_ string, payload []byte) { handle(payload) })
}

// Watch is Subscribe for a topic filter (with + or #): handle gets each
// message's topic too.
func (p *Publisher) Watch(filter string, handle func(topic string, payload []byte)) {
	p.mu.Lock()
	if p.subs == nil {
		p.subs = map[string]func(string, []byte){}
	}
	p.subs[filter] = handle
	p.mu.Unlock()
	if p.client.IsConnectionOpen() {
		p.subscribe(filter, handle)
	}
}

// OnConnect calls f, on a goroutine of its own, after every connection to
// the broker from now on (a retained message to publish again, say).
func (p *Publisher) OnConnect(f func()) {
	p.mu.Lock()
	p.onConnect = append(p.onConnect, f)
	p.mu.Unlock()
}

// Unwatch ends a Watch or Subscribe.
func (p *Publisher) Unwatch(filter string) {
	p.mu.Lock()
	_, ok := p.subs[filter]
	delete(p.subs, filter)
	p.mu.Unlock()
	if ok && p.client.IsConnectionOpen() {
		tok := p.client.Unsubscribe(filter)
		go func() {
			if tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
				p.log.Warn("unsubscribing failed", "topic", filter, "err", tok.Error())
			}
		}()
	}
}

func (p *Publisher) resubscribe() {
	p.mu.Lock()
	subs := make(map[string]func(string, []byte), len(p.subs))
	for t, h := range p.subs {
		subs[t] = h
	}
	p.mu.Unlock()
	for t, h := range subs {
		p.subscribe(t, h)
	}
}

func (p *Publisher) subscribe(filter string, handle func(string, []byte)) {
	tok := p.client.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { handle(m.Topic(), m.Payload()) })
	go func() {
		if tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
			p.log.Warn("subscribing failed", "topic", filter, "err", tok.Error())
		}
	}()
}

// URL is the broker's address.
func (p *Publisher) URL() string { return p.cfg.URL }

// Connected reports whether the connection to the broker is open now.
func (p *Publisher) Connected() bool { return p.client.IsConnectionOpen() }

// LastError is the latest failed connection attempt, or nil after a
// successful one.
func (p *Publisher) LastError() error { return p.lastFailure() }

// Close publishes "offline" and disconnects; it is safe to call twice.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	// Without an open connection the broker has already published the
	// will ("offline"), and a stored message would only wait for a
	// reconnection that Disconnect cancels.
	if p.client.IsConnectionOpen() {
		tok := p.client.Publish(p.status, 1, true, "offline")
		select {
		case <-tok.Done():
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
	}
	p.client.Disconnect(250)
	return nil
}
