package mqtt

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ToolOptions say how an operator's command (edged deploy, edged watch)
// reaches a broker.
type ToolOptions struct {
	URL          string
	Username     string
	PasswordFile string // its first line is the password
	CAFile       string // verifies an ssl:// broker (default: the system's roots)
	ClientPrefix string // the client id is this and a random suffix
	Timeout      time.Duration
}

// DialTool connects a clean-session client for a command line tool: a
// random client id (several tools may run at once), reconnecting on its
// own once connected.
func DialTool(ctx context.Context, o ToolOptions) (paho.Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	var id [6]byte
	rand.Read(id[:])
	opts := paho.NewClientOptions().AddBroker(o.URL).SetClientID(o.ClientPrefix + hex.EncodeToString(id[:])).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectTimeout(o.Timeout).SetOrderMatters(false)
	if o.Username != "" {
		opts.SetUsername(o.Username)
	}
	if o.PasswordFile != "" {
		p, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		line, _, _ := strings.Cut(string(p), "\n")
		opts.SetPassword(strings.TrimRight(line, "\r"))
	}
	if o.CAFile != "" {
		pool, err := CertPool(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		opts.SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool})
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("broker %s: %w", o.URL, err)
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c, nil
}
