package statusapi

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Access says who may do what on the endpoint:
//
//   - On a loopback address, reads are open; anything that changes state
//     needs the token and must come from the page itself (no cross-site
//     request).
//   - On any other address, with a token, every path needs it.
//   - On any other address without a token, only /metrics, /healthz and
//     /readyz are served; camera images, samples and changes are refused.
type Access struct {
	Token string // "" when none is configured
}

const tokenCookie = "edged_token"

// loopback reports whether the server listens on loopback only.
func (s *Server) loopback() bool {
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		return a.IP.IsLoopback()
	}
	return false
}

// authorized reports whether r carries the token (a bearer header, or the
// cookie the page's sign-in sets).
func (s *Server) authorized(r *http.Request) bool {
	if s.access.Token == "" {
		return false
	}
	got := ""
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = h
	} else if c, err := r.Cookie(tokenCookie); err == nil {
		got = c.Value
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.access.Token)) == 1
}

// sameOrigin refuses requests a browser sent for another site.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// guard wraps a handler with the access rules; write marks a handler that
// changes state, private one that serves camera images or samples.
func (s *Server) guard(h http.Handler, private, write bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loop := s.loopback()
		switch {
		case !loop && s.access.Token == "" && (private || write):
			http.Error(w, "not served on a non-loopback http.addr without http.token_file (camera images are private)", http.StatusForbidden)
			return
		case !loop && s.access.Token != "" && !s.authorized(r):
			w.Header().Set("WWW-Authenticate", `Bearer realm="edged"`)
			http.Error(w, "this needs the token (Authorization: Bearer, see docs/security.md)", http.StatusUnauthorized)
			return
		case write && s.access.Token == "":
			http.Error(w, "changes need http.token_file (or http.token_credential) to be set", http.StatusForbidden)
			return
		case write && !s.authorized(r):
			w.Header().Set("WWW-Authenticate", `Bearer realm="edged"`)
			http.Error(w, "this needs the token", http.StatusUnauthorized)
			return
		case write && !sameOrigin(r):
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// signIn checks a token sent by the page and sets it as a cookie for the
// images and requests that follow (HttpOnly, SameSite=Strict).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	tok := r.PostForm.Get("token")
	if s.access.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.access.Token)) != 1 {
		time.Sleep(500 * time.Millisecond) // a guesser waits
		http.Error(w, "wrong token", http.StatusUnauthorized)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600})
	w.WriteHeader(http.StatusNoContent)
}
