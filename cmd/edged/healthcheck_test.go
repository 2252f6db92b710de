package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck: `edged healthcheck` exits 0 only when /healthz answers
// 200 with edged's JSON, and 1 (saying why) for 503, another server and
// nobody listening.
func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok/healthz":
			w.Write([]byte(`{"status":"degraded","ready":true}`))
		case "/down/healthz":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unhealthy","ready":true}`))
		default:
			w.Write([]byte("<html>a router's page</html>"))
		}
	}))
	defer srv.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, tc := range []struct {
		url  string
		code int
		want string
	}{
		{srv.URL + "/ok/healthz", 0, "degraded"},
		{srv.URL + "/down/healthz", 1, "503 Service Unavailable (unhealthy)"},
		{srv.URL + "/other", 1, "not edged's JSON"},
		{gone.URL + "/healthz", 1, "connection refused"},
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"healthcheck", "--url", tc.url}, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, output %q%q; want exit %d saying %q", tc.url, code, stdout.String(), stderr.String(), tc.code, tc.want)
		}
	}
}
