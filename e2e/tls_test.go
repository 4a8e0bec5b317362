package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testcert"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// startOps runs the real server with every listener Run would open
// (HTTP(S) and metrics) on loopback ports, configured by mutate, and
// returns the addresses.
func startOps(t *testing.T, mutate func(*config.Config)) (httpAddr, metricsAddr string, srv *server.Server) {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.TURN.Listen = "off"
	cfg.SFU.UDPPort = 0
	cfg.SFU.Loopback = true
	cfg.AdminToken = "ops-admin-token"
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &testlog.Buffer{}
	srv, err := server.New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), server.WithVersion("v0.0.0-test"))
	if err != nil {
		t.Fatal(err)
	}
	var lns server.Listeners
	if lns.HTTP, err = net.Listen("tcp", cfg.HTTP); err != nil {
		t.Fatal(err)
	}
	if lns.Metrics, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, lns) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return lns.HTTP.Addr().String(), lns.Metrics.Addr().String(), srv
}

// TestTLSServesHTTPSAndWSS (docs/install.md "TLS: three ways"): with a certificate and key, the one
// listener serves the client over HTTPS and signaling over WSS, and a
// plain-HTTP request to it gets no page. TURN over TLS, offered in the
// welcome, presents the same certificate.
func TestTLSServesHTTPSAndWSS(t *testing.T) {
	certFile, keyFile, pool := testcert.Write(t, "127.0.0.1", "localhost")
	addr, _, _ := startOps(t, func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
		c.TURN.Listen = "127.0.0.1:0"
		c.TURN.TLSListen = "127.0.0.1:0"
		c.TURN.PublicIP = "127.0.0.1"
	})
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: 10 * time.Second}

	for _, path := range []string{"/", "/healthz", "/readyz"} {
		resp, err := client.Get("https://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if path == "/" && !strings.Contains(string(body), "<html") {
			t.Errorf("GET /: not the web client: %.80q", body)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("GET %s: not over TLS 1.2+: %+v", path, resp.TLS)
		}
	}

	dialer := websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 10 * time.Second}
	hdr := http.Header{"Origin": {"https://" + addr}} // as a browser on the page would send
	ws, _, err := dialer.Dial("wss://"+addr+"/ws", hdr)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer ws.Close()
	ws.WriteJSON(map[string]any{"type": "join", "v": 1, "room": "tls", "name": "Alice"})
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m struct {
		Type       string `json:"type"`
		ICEServers []struct {
			URLs []string `json:"urls"`
		} `json:"iceServers"`
	}
	if err := ws.ReadJSON(&m); err != nil || m.Type != "welcome" {
		t.Fatalf("welcome over wss: %v %v", m, err)
	}
	var turns string
	for _, s := range m.ICEServers {
		for _, u := range s.URLs {
			if rest, ok := strings.CutPrefix(u, "turns:"); ok {
				turns, _, _ = strings.Cut(rest, "?")
			}
		}
	}
	if turns == "" {
		t.Fatalf("no turns: URL in the welcome's ICE servers %v", m.ICEServers)
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", turns, tlsConf)
	if err != nil {
		t.Fatalf("TURN over TLS at %s with the HTTPS certificate: %v", turns, err)
	}
	tc.Close()

	// Plain HTTP to the TLS port is answered with 400, never the client.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "<html") {
			t.Errorf("plain HTTP on the TLS port served %d %.80q", resp.StatusCode, body)
		}
	}
	// A client that does not trust the certificate fails the handshake.
	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get("https://" + addr + "/healthz"); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}

// TestBrowserOverTLS: two Chromium pages load the client over
// HTTPS (a self-signed certificate, accepted with
// --ignore-certificate-errors), are a secure context, join over WSS and
// connect to each other.
func TestBrowserOverTLS(t *testing.T) {
	certFile, keyFile, _ := testcert.Write(t, "127.0.0.1", "localhost")
	addr, _, _ := startOps(t, func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
	})
	b := browsertest.New(t, browsertest.WithFlag("ignore-certificate-errors", true))
	var pages []*browsertest.Page
	for _, n := range []string{"A", "B"} {
		pages = append(pages, b.NewPage(t, fmt.Sprintf("https://%s/r/tls?quality=low&name=%s", addr, n)))
	}
	for _, p := range pages {
		p.MustWaitFor(`window.isSecureContext && location.protocol === 'https:' && parley.state === 'in-call' && parley.peers()[0]?.pc?.connectionState === 'connected'`, browserJoinTimeout)
	}
}

// TestBrowserPasswordPrompt: a room with a password sends the browser back
// to the lobby with a labelled password field and the server's reason.
func TestBrowserPasswordPrompt(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.Access.RoomPasswords = []string{"locked=" + accessHash(t, "pw")}
	})
	b := browsertest.New(t)
	p := b.NewPage(t, browserRoomURL(ts, "locked", "A"))
	p.MustWaitFor(`parley.state === 'lobby' && document.getElementById('room-password') !== null`, browserJoinTimeout)
	ok := browsertest.MustEval[bool](p, `(() => {
  const input = document.getElementById('room-password');
  const label = document.querySelector('label[for=room-password]');
  const err = document.getElementById('password-error');
  return input.type === 'password' && label?.textContent === 'Room password' &&
    !err.hidden && /password/.test(err.textContent) && input.getAttribute('aria-describedby') === 'password-error';
})()`)
	if !ok {
		t.Fatal("the lobby's password prompt is missing its label, type or message")
	}
}
