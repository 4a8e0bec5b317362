package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/signaling"
)

// TestAdminAPI drives the API over a real Hub (rooms made by real
// WebSocket joins are covered in e2e; here the hub starts empty).
func TestAdminAPI(t *testing.T) {
	hub := signaling.NewHub(signaling.Options{})
	api, err := New(hub, "s3cret", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api)
	defer ts.Close()

	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for _, tok := range []string{"", "wrong", "s3cret2"} {
		if code, body := do("GET", "/api/admin/rooms", tok, ""); code != 401 || !strings.Contains(body, "unauthorized") {
			t.Errorf("token %q: %d %s", tok, code, body)
		}
	}
	code, body := do("GET", "/api/admin/rooms", "s3cret", "")
	var rr roomsResponse
	if code != 200 || json.Unmarshal([]byte(body), &rr) != nil || rr.Policy != signaling.PolicyAuto || len(rr.Rooms) != 0 {
		t.Fatalf("rooms: %d %s", code, body)
	}
	if code, body = do("PUT", "/api/admin/policy", "s3cret", `{"policy":"mesh-only"}`); code != 200 || !strings.Contains(body, `"policy":"mesh-only"`) {
		t.Fatalf("set policy: %d %s", code, body)
	}
	if hub.DefaultPolicy() != signaling.PolicyMeshOnly {
		t.Fatal("policy not applied")
	}
	for _, tc := range []struct {
		method, path, body, want string
		code                     int
	}{
		{"PUT", "/api/admin/policy", `{"policy":"sometimes"}`, "bad-policy", 400},
		{"PUT", "/api/admin/policy", `{"polcy":"auto"}`, "bad-json", 400},
		{"PUT", "/api/admin/policy", `not json`, "bad-json", 400},
		{"PUT", "/api/admin/rooms/ghost/policy", `{"policy":"auto"}`, "no-room", 404},
		{"PUT", "/api/admin/rooms/ghost/e2ee", `{"e2ee":false}`, "no-room", 404},
		{"PUT", "/api/admin/rooms/ghost/e2ee", `{}`, "bad-json", 400},
		{"PUT", "/api/admin/rooms/ghost/e2ee", `{"e2ee":"off"}`, "bad-json", 400},
		{"GET", "/api/admin/rooms/ghost", ``, "no-room", 404},
		{"DELETE", "/api/admin/rooms/ghost", ``, "no-room", 404},
		{"DELETE", "/api/admin/participants/nobody", ``, "no-participant", 404},
		{"GET", "/api/admin/nothing", ``, "not-found", 404},
	} {
		if code, body := do(tc.method, tc.path, "s3cret", tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}
	if _, err := New(hub, "", nil); err == nil {
		t.Error("empty token accepted")
	}
}

// TestUnauthorizedLogCappedAndRateLimited: requests without the token
// write at most one capped line per second, whatever their path's size
// and however many arrive.
func TestUnauthorizedLogCappedAndRateLimited(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf}, nil))
	api, err := New(signaling.NewHub(signaling.Options{}), "s3cret", log)
	if err != nil {
		t.Fatal(err)
	}
	long := "/api/admin/" + strings.Repeat("x", 100<<10)
	start := time.Now()
	for range 200 {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", long, nil))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", rec.Code)
		}
	}
	out := buf.String()
	// One line per started second (the race detector makes 200 requests
	// take seconds on a busy machine).
	allowed := int(time.Since(start)/time.Second) + 1
	if n := strings.Count(out, "unauthorized request"); n < 1 || n > allowed {
		t.Fatalf("%d log lines for 200 refusals in %s, want 1 to %d", n, time.Since(start), allowed)
	}
	if len(out) > 1024*allowed || !strings.Contains(out, "truncated") {
		t.Fatalf("a 100 KB path made a %d-byte log line: %.300s", len(out), out)
	}
}

// lockedWriter serialises writes from the handler goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
