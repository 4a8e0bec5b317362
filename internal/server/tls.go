package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/parleyhq/parley/internal/certfile"
)

// tlsSetup is how the HTTP listener gets its certificates: from files
// (reloaded when they change) or from an ACME CA. TURN over TLS uses the
// same certificates. A nil *tlsSetup means plain HTTP.
type tlsSetup struct {
	config *tls.Config
	// acmeHTTP answers HTTP-01 challenges and redirects everything else to
	// https; nil with certificate files.
	acmeHTTP http.Handler
}

// newTLS builds the TLS configuration from tls.* keys.
//
// With acme_hosts, autocert answers TLS-ALPN-01 challenges on the HTTPS
// listener itself (RFC 8737: the acme-tls/1 protocol is in NextProtos), so
// only port 443 has to be reachable; acme_http_listen adds HTTP-01 on :80.
func (s *Server) newTLS() (*tlsSetup, error) {
	c := s.cfg.TLS
	switch {
	case len(c.ACMEHosts) > 0:
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(c.ACMECacheDir),
			HostPolicy: autocert.HostWhitelist(c.ACMEHosts...), // never ask the CA for a name someone made up
			Email:      c.ACMEEmail,
		}
		if c.ACMEDirectory != "" {
			m.Client = &acme.Client{DirectoryURL: c.ACMEDirectory}
		}
		tc := m.TLSConfig() // GetCertificate + NextProtos h2, http/1.1, acme-tls/1
		tc.MinVersion = tls.VersionTLS12
		return &tlsSetup{config: tc, acmeHTTP: m.HTTPHandler(nil)}, nil
	case c.CertFile != "":
		certs, err := certfile.New(c.CertFile, c.KeyFile, s.log.With("part", "tls"))
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return &tlsSetup{config: &tls.Config{
			GetCertificate: certs.GetCertificate,
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"h2", "http/1.1"},
		}}, nil
	}
	return nil, nil
}

// getCertificate is the certificate source for TURN over TLS; nil
// without TLS.
func (t *tlsSetup) getCertificate() func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if t == nil {
		return nil
	}
	return t.config.GetCertificate
}

// secureContextHint is logged when Parley serves plain HTTP to more than
// this machine: browsers give camera and microphone only to https:// pages
// and http://localhost, so anyone else would join without media.
func (s *Server) secureContextHint() {
	if s.cfg.TLSEnabled() {
		return
	}
	pub := s.cfg.PublicURL
	switch {
	case strings.HasPrefix(pub, "https://"):
		if len(s.cfg.TrustedProxies) == 0 {
			s.log.Info("serving plain HTTP for an https public_url: a reverse proxy terminates TLS; set trusted_proxies to its address so client addresses are right (docs/install.md)")
		}
		return
	case pub != "" && isLocalURL(pub):
		return
	case pub == "" && loopbackListen(s.cfg.HTTP):
		return // only this machine can reach it, over http://localhost
	}
	s.log.Warn("serving plain HTTP: browsers allow camera and microphone only on https:// pages (or http://localhost on this machine). " +
		"For others to join, set tls.cert_file and tls.key_file, or tls.acme_hosts and tls.acme_cache_dir for automatic certificates, " +
		"or put an HTTPS reverse proxy in front and set public_url to its https:// address (docs/install.md)")
}

// loopbackListen reports whether a listen address accepts only local
// connections.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// isLocalURL reports whether u points at this machine.
func isLocalURL(u string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	host, _, _ = strings.Cut(host, "/")
	return host == "localhost" || strings.HasPrefix(host, "localhost:") || strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "[::1]")
}
