package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// checkOrigin accepts an origin as a CSP source and a browser's Origin
// header write it: scheme://host[:port], nothing else (no path, no
// wildcard, no quote or space that could smuggle another directive).
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		strings.ContainsAny(o, " ;,'\"*") {
		return fmt.Errorf("%q is not an origin like https://app.example.org", o)
	}
	return nil
}

// HSTS returns the Strict-Transport-Security max-age to send, or 0 for
// none: only when Parley terminates TLS itself (behind a proxy, the proxy
// decides), and never with a staging ACME directory, whose certificates
// browsers do not trust: HSTS would then forbid clicking through the
// warning, locking people out of a test install.
func (c Config) HSTS() time.Duration {
	if !c.TLSEnabled() || c.HSTSMaxAge <= 0 {
		return 0
	}
	if strings.Contains(strings.ToLower(c.TLS.ACMEDirectory), "staging") {
		return 0
	}
	return c.HSTSMaxAge
}
