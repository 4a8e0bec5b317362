package server

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testcert"
)

// TestHeadersOfTheServer: a TLS server sends HSTS on every response
// (pages, health, the API); a plain-HTTP one does not; both forbid
// framing unless embed_origins names the embedder.
func TestHeadersOfTheServer(t *testing.T) {
	certFile, keyFile, _ := testcert.Write(t, "localhost")
	for _, tc := range []struct {
		name  string
		tls   bool
		embed []string
		hsts  string
		xfo   string
	}{
		{"plain", false, nil, "", "DENY"},
		{"tls", true, nil, "max-age=15552000", "DENY"},
		{"tls-embedded", true, []string{"https://app.example.org"}, "max-age=15552000", ""},
	} {
		cfg := config.Default()
		cfg.HTTP, cfg.TURN.Listen, cfg.Metrics.Listen, cfg.SFU.UDPPort = "127.0.0.1:0", "off", "off", 0
		cfg.SFU.ListenIP = "127.0.0.1"
		cfg.AdminToken = "t"
		cfg.EmbedOrigins = tc.embed
		if tc.tls {
			cfg.TLS.CertFile, cfg.TLS.KeyFile = certFile, keyFile
		}
		srv, err := New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/", "/r/x", "/healthz", "/api/admin/rooms"} {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			io.Copy(io.Discard, rec.Body)
			if got := rec.Header().Get("Strict-Transport-Security"); got != tc.hsts {
				t.Errorf("%s %s: Strict-Transport-Security %q, want %q", tc.name, p, got, tc.hsts)
			}
			if p == "/" || p == "/r/x" {
				if got := rec.Header().Get("X-Frame-Options"); got != tc.xfo {
					t.Errorf("%s %s: X-Frame-Options %q, want %q", tc.name, p, got, tc.xfo)
				}
			}
		}
		srv.SFU().Close()
	}
}

func TestHSTSOnlyWhenServingTrustedTLS(t *testing.T) {
	c := config.Default()
	if c.HSTS() != 0 {
		t.Error("HSTS over plain HTTP")
	}
	c.TLS.CertFile, c.TLS.KeyFile = "c.pem", "k.pem"
	if c.HSTS() != 180*24*time.Hour {
		t.Errorf("HSTS with TLS = %s", c.HSTS())
	}
	c.HSTSMaxAge = 0
	if c.HSTS() != 0 {
		t.Error("hsts_max_age 0 did not turn it off")
	}
	c = config.Default()
	c.TLS.ACMEHosts = []string{"meet.example.org"}
	c.TLS.ACMEDirectory = "https://acme-staging-v02.api.letsencrypt.org/directory"
	if c.HSTS() != 0 {
		t.Error("HSTS with an ACME staging certificate")
	}
}
