package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestHTTPErrorLogCappedAndRateLimited: net/http's error lines (one per
// failed handshake, which any client can cause) are capped and written
// at most once per second.
func TestHTTPErrorLogCappedAndRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := httpErrorLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for range 100 {
		l.Printf("http: TLS handshake error from 192.0.2.1:5555: %s", strings.Repeat("x", 10000))
	}
	out := buf.String()
	if n := strings.Count(out, "handshake error"); n < 1 || n > 2 {
		t.Fatalf("%d lines for 100 errors in well under a second", n)
	}
	if len(out) > 2*1024 || !strings.Contains(out, "truncated") {
		t.Fatalf("lines not capped: %d bytes", len(out))
	}
}
