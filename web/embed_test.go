package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	h := Handler(Options{})
	served, err := loadTree(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "Start a new room"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/r/brave-otter-42", 200, "text/html; charset=utf-8", `id="lobby"`},
		{"GET", "/r/A_b-9", 200, "text/html; charset=utf-8", `id="call"`},
		{"GET", "/r/" + strings.Repeat("x", 64), 200, "text/html; charset=utf-8", `id="call"`},
		{"GET", "/r/" + strings.Repeat("x", 65), 404, "text/html; charset=utf-8", `href="/"`},
		{"GET", "/r/bad.name", 404, "text/html; charset=utf-8", `href="/"`},
		{"GET", "/r/caf%C3%A9", 404, "text/html; charset=utf-8", `href="/"`},
		{"GET", "/r/a/b", 404, "text/html; charset=utf-8", `href="/"`},
		{"GET", "/r/", 404, "text/html; charset=utf-8", `href="/"`},
		{"GET", "/admin", 200, "text/html; charset=utf-8", `id="token-form"`},
		{"GET", "/admin/x", 404, "text/html; charset=utf-8", `href="/"`},
		{"GET", "/js/admin.js", 200, "text/javascript; charset=utf-8", "AdminAPI"},
		{"GET", "/js/app.js", 200, "text/javascript; charset=utf-8", "window.parley"},
		{"GET", "/js/signaling.js", 200, "text/javascript; charset=utf-8", "export class Signaling"},
		{"GET", "/css/parley.css", 200, "text/css; charset=utf-8", ".tile"},
		{"GET", "/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/js/rooms.test.js", 404, "text/html; charset=utf-8", ""},
		{"GET", "/js/nope.js", 404, "text/html; charset=utf-8", ""},
		{"GET", "/html/room.html", 404, "text/html; charset=utf-8", ""},
		{"GET", "/embed.go", 404, "text/html; charset=utf-8", ""},
		{"GET", "/package.json", 404, "text/html; charset=utf-8", ""},
		{"POST", "/", 405, "", ""},
	} {
		rec := get(t, h, tc.method, tc.path)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			continue
		}
		if tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, rec.Header().Get("Content-Type"), tc.ctype)
		}
		if !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: body lacks %q", tc.method, tc.path, tc.body)
		}
		if tc.method == "HEAD" && rec.Body.Len() != 0 {
			t.Errorf("HEAD %s: has a body", tc.path)
		}
		for k, v := range map[string]string{
			"Content-Security-Policy": CSP(nil, served.scriptHashes),
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
		if strings.HasPrefix(tc.ctype, "text/html") && rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s %s: HTML without Cache-Control: no-cache", tc.method, tc.path)
		}
	}
}

func TestETagRevalidation(t *testing.T) {
	h := Handler(Options{})
	first := get(t, h, "GET", "/js/app.js")
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /js/app.js")
	}
	if rec := get(t, h, "GET", "/js/app.js", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation: status %d, want 304", rec.Code)
	}
}

// TestNoInlineCode keeps the pages compatible with the CSP: no inline
// scripts, event-handler attributes or style attributes/elements.
func TestNoInlineCode(t *testing.T) {
	h := Handler(Options{})
	for _, p := range []string{"/", "/r/x", "/nope"} {
		body := get(t, h, "GET", p).Body.String()
		for _, bad := range []string{"<script>", "<style", "style=\"", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		if strings.Contains(body, "<script") && !strings.Contains(body, `<script type="module" src="/assets/`) {
			t.Errorf("%s has a script that is not an external module", p)
		}
	}
}

// TestImportMapHash: the CSP allows the room page's import map, as served
// (rewritten to versioned URLs), by its hash, and nothing else inline.
func TestImportMapHash(t *testing.T) {
	rec := get(t, Handler(Options{}), "GET", "/r/x")
	m, ok := importMap(rec.Body.Bytes())
	if !ok {
		t.Fatal("the room page has no import map")
	}
	if !strings.Contains(string(m), assetsPrefix) {
		t.Errorf("the import map does not point at versioned files:\n%s", m)
	}
	sum := sha256.Sum256(m)
	want := "script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("CSP %q lacks %q", csp, want)
	}
}

// TestVendor: the room page needs the vendored libraries; a build without
// them is a build that cannot encrypt.
func TestVendor(t *testing.T) {
	if !HasVendor() {
		t.Fatal("web/vendor/node_modules is missing: run scripts/vendor-web.sh (make build and make test do)")
	}
	h := Handler(Options{})
	if rec := get(t, h, "GET", VendorEntry); rec.Code != 200 || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("GET %s: %d %s", VendorEntry, rec.Code, rec.Header().Get("Content-Type"))
	}
	// all: in go:embed: noble's modules start with "_" (_md.js, _u64.js).
	if rec := get(t, h, "GET", "/vendor/node_modules/@noble/hashes/_md.js"); rec.Code != 200 {
		t.Errorf("GET noble's _md.js: %d", rec.Code)
	}
	for _, p := range []string{"/vendor/package.json", "/vendor/README.md", "/vendor/node_modules/ts-mls/package.json"} {
		if rec := get(t, h, "GET", p); rec.Code != 404 {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
}
