package config

import (
	"net"
	"testing"
)

// TestSecureDefaults: out of the box the HTTP endpoint and the embedded
// broker listen on loopback only, TLS verifies the server, and no password
// goes over plain TCP to another host; the sample config says the same.
func TestSecureDefaults(t *testing.T) {
	fromSample, err := Parse(sample, "sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"defaults": Defaults(), "sample.yaml": fromSample} {
		for field, addr := range map[string]string{"http.addr": c.HTTP.Addr, "broker.embedded_addr": c.Broker.EmbeddedAddr} {
			host, _, err := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				t.Errorf("%s: %s = %q, want a loopback address", name, field, addr)
			}
		}
		if c.Broker.TLS.InsecureSkipVerify || c.Broker.AllowPlaintextPassword || c.Broker.Password != "" {
			t.Errorf("%s: broker %+v: want verification on, no plaintext password, no inline password", name, c.Broker)
		}
	}
}
