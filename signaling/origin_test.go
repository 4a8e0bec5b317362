package signaling

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/parleyhq/parley/internal/logsafe"
)

// dialStatus opens /ws with the given Origin and Host ("" leaves them
// out) and returns the HTTP status: 101 accepted, 403 refused.
func dialStatus(t *testing.T, url, origin, host string) int {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if host != "" {
		h.Set("Host", host) // gorilla sends it as the request's Host
	}
	ws, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

// TestOriginWithPublicURL: with a public URL, only its exact origin and
// the allowed origins pass. A DNS-rebinding page (Host and Origin both
// evil.example) and an Origin of another scheme or port are refused.
func TestOriginWithPublicURL(t *testing.T) {
	_, url := testHub(t, Options{PublicURL: "https://meet.example.org/rooms/", Origins: []string{"https://app.example.com:8443"}})
	self := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	for _, tc := range []struct {
		origin, host string
		want         int
	}{
		{"", "", 101}, // not a browser
		{"https://meet.example.org", "", 101},
		{"https://MEET.example.org:443", "", 101},
		{"https://app.example.com:8443", "", 101},
		{"http://evil.example", "evil.example", 403}, // DNS rebinding
		{"http://" + self, "", 403},                  // the Host fallback is off
		{"http://meet.example.org", "", 403},         // scheme
		{"https://meet.example.org:8443", "", 403},   // port
		{"https://app.example.com", "", 403},
		{"https://meet.example.org.evil.test", "", 403},
		{"https://meet.example.org/path", "", 403},
		{"null", "", 403},
	} {
		if got := dialStatus(t, url, tc.origin, tc.host); got != tc.want {
			t.Errorf("Origin %q Host %q: status %d, want %d", tc.origin, tc.host, got, tc.want)
		}
	}
}

// TestOriginWithoutPublicURL: the request's own origin passes, its scheme
// included: an https Origin on a plain-HTTP request is refused.
func TestOriginWithoutPublicURL(t *testing.T) {
	_, url := testHub(t, Options{Origins: []string{"https://app.example.com"}})
	self := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	for _, tc := range []struct {
		origin, host string
		want         int
	}{
		{"http://" + self, "", 101},
		{"https://" + self, "", 403}, // plain HTTP here, no TLS
		{"https://app.example.com", "", 101},
		{"http://meet.example.org", "", 403},
		{"http://meet.example.org", "meet.example.org", 101}, // what public_url is for
	} {
		if got := dialStatus(t, url, tc.origin, tc.host); got != tc.want {
			t.Errorf("Origin %q Host %q: status %d, want %d", tc.origin, tc.host, got, tc.want)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Meet.Example.org":     "https://meet.example.org",
		"https://meet.example.org:443": "https://meet.example.org",
		"http://meet.example.org:80/":  "http://meet.example.org",
		"HTTP://10.0.0.5:8080":         "http://10.0.0.5:8080",
		"http://[::1]:9000":            "http://[::1]:9000",
		"https://[2001:DB8::1]:443":    "https://[2001:db8::1]",
	} {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "null", "meet.example.org", "ftp://x.example", "https://", "https://u:p@x.example",
		"https://x.example/a", "https://x.example?q", "https://x.example#f", "https://x.example:0", "https://x.example:70000", "https://bücher.example"} {
		if got, err := ParseOrigin(bad); err == nil {
			t.Errorf("ParseOrigin(%q) = %q, want an error", bad, got)
		}
	}
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusedOriginLogCapped: a refused Origin reaches the log cut to 256
// bytes and marked, and a burst of refusals makes one line, not one each.
func TestRefusedOriginLogCapped(t *testing.T) {
	var logs syncBuffer
	_, url := testHub(t, Options{PublicURL: "https://meet.example.org", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	huge := "https://" + strings.Repeat("a", 900<<10) + ".example"
	start := time.Now()
	if got := dialStatus(t, url, huge, ""); got != 403 {
		t.Fatalf("status %d", got)
	}
	for range 20 {
		dialStatus(t, url, "https://evil.example", strings.Repeat("h", 2000))
	}
	// One line per second at most, however slow this machine is today.
	most := 1 + int(time.Since(start)/logsafe.DefaultInterval)
	out := logs.String()
	if n := strings.Count(out, "websocket origin refused"); n > most {
		t.Errorf("%d log lines for 21 refusals, want at most %d:\n%.2000s", n, most, out)
	}
	if len(out) > 2048*most || !strings.Contains(out, logsafe.TruncatedMark) {
		t.Errorf("log of %d bytes for a 900 KB Origin, want it capped and marked:\n%.2000s", len(out), out)
	}
}
