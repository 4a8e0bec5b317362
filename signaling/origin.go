package signaling

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The WebSocket Origin check (docs/protocol.md "Transport"). A page from
// another site must not be able to open /ws with the visitor's browser and
// network position: cross-site WebSocket hijacking, and DNS rebinding,
// where a hostile name resolves to Parley's address and its page then
// sends Host and Origin of that name, both matching each other.
//
// With a public URL, only its origin (scheme, host and port) and the
// allowed origins are accepted: the Host header proves nothing. Without
// one, the request's own origin is accepted too: https when the request
// came over TLS, http otherwise, with its Host. X-Forwarded-Proto is not
// believed here (signaling cannot tell a trusted proxy's header from a
// client's): behind a proxy that terminates TLS, set the public URL.

// ErrBadOrigin means a string is not an http(s) origin.
var ErrBadOrigin = errors.New("not an origin like https://meet.example.org")

// originPolicy is which browser origins may open /ws. Set once by NewHub.
type originPolicy struct {
	public  string          // the public URL's origin; "" turns on the Host fallback
	allowed map[string]bool // further allowed origins, serialized by ParseOrigin
}

// newOriginPolicy builds the policy from Options.PublicURL and
// Options.Origins (config validated them: an entry that still does
// not parse is reported and matches nothing).
func newOriginPolicy(publicURL string, allowed []string) (originPolicy, []error) {
	p := originPolicy{allowed: make(map[string]bool, len(allowed))}
	var errs []error
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err == nil {
			p.public, err = originOf(u)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("public URL %q: %w", publicURL, err))
			p.public = "-" // matches nothing, and the Host fallback stays off
		}
	}
	for _, s := range allowed {
		o, err := ParseOrigin(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowed origin: %w", err))
			continue
		}
		p.allowed[o] = true
	}
	return p, errs
}

// allows reports whether a browser whose Origin header is origin (as
// ParseOrigin serialized it) may open /ws with request r.
func (p originPolicy) allows(origin string, r *http.Request) bool {
	if p.allowed[origin] {
		return true
	}
	if p.public != "" {
		return origin == p.public
	}
	return origin == requestOrigin(r)
}

// requestOrigin is the origin r was sent to as far as Parley can see it:
// https when it came over TLS, else http, and the Host header.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o, err := ParseOrigin(scheme + "://" + r.Host)
	if err != nil {
		return ""
	}
	return o
}

// ParseOrigin checks that s is exactly an http(s) origin (scheme, host,
// optional port; a trailing slash is tolerated, nothing else after the
// host) and returns its serialization (RFC 6454 §6.2): lower case, the port
// only when it is not the scheme's default. Browsers send Origin that way.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%q: %w", truncate(s, 64), ErrBadOrigin)
	}
	o, err := originOf(u)
	if err != nil {
		return "", fmt.Errorf("%q: %w", truncate(s, 64), err)
	}
	return o, nil
}

// originOf serializes u's origin (RFC 6454 §6.2), ignoring its path.
func originOf(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	defaultPort := map[string]string{"http": "80", "https": "443"}[scheme]
	if defaultPort == "" {
		return "", fmt.Errorf("%w: the scheme must be http or https", ErrBadOrigin)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%w: no host", ErrBadOrigin)
	}
	for _, r := range host {
		if r >= 0x80 {
			return "", fmt.Errorf("%w: write the host in its ASCII (xn--) form, as browsers send it", ErrBadOrigin)
		}
	}
	port := u.Port()
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: port %q", ErrBadOrigin, port)
		}
	}
	if port == "" || port == defaultPort {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		return scheme + "://" + host, nil
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}
