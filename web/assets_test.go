package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFramingHeaders(t *testing.T) {
	rec := get(t, Handler(Options{}), "GET", "/r/x")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP without frame-ancestors 'none': %q", csp)
	}
	if got := rec.Header().Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q, want DENY", got)
	}
	embed := []string{"https://app.example.org", "https://intranet.example.com:8443"}
	rec = get(t, Handler(Options{EmbedOrigins: embed}), "GET", "/r/x")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; frame-ancestors https://app.example.org https://intranet.example.com:8443") {
		t.Errorf("CSP with embedders: %q", csp)
	}
	if got, ok := rec.Header()["X-Frame-Options"]; ok {
		t.Errorf("X-Frame-Options %q sent though embedders are allowed (it would forbid them)", got)
	}
}

func TestGzip(t *testing.T) {
	h := Handler(Options{})
	plain := get(t, h, "GET", "/js/call.js")
	for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1, gzip;q=0.5", "*"} {
		rec := get(t, h, "GET", "/js/call.js", "Accept-Encoding", ae)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: not gzipped", ae)
		}
		size := rec.Body.Len()
		if rec.Body.Len() >= plain.Body.Len()/2 {
			t.Errorf("gzipped call.js is %d bytes of %d", rec.Body.Len(), plain.Body.Len())
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if !bytes.Equal(got, plain.Body.Bytes()) {
			t.Fatal("gzipped body does not decompress to the file")
		}
		if rec.Header().Get("ETag") == plain.Header().Get("ETag") {
			t.Error("gzipped and plain bodies share an ETag")
		}
		if rec.Header().Get("Content-Length") != strconv.Itoa(size) {
			t.Errorf("gzipped Content-Length %q for %d bytes", rec.Header().Get("Content-Length"), size)
		}
		if re := get(t, h, "GET", "/js/call.js", "Accept-Encoding", ae, "If-None-Match", rec.Header().Get("ETag")); re.Code != http.StatusNotModified || re.Body.Len() != 0 {
			t.Errorf("gzipped revalidation: %d with %d bytes, want 304", re.Code, re.Body.Len())
		}
	}
	for _, ae := range []string{"", "identity", "gzip;q=0", "br", "*;q=0", "gzip;q=0, *"} {
		rec := get(t, h, "GET", "/js/call.js", "Accept-Encoding", ae)
		if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), plain.Body.Bytes()) {
			t.Errorf("Accept-Encoding %q: got an encoded body", ae)
		}
	}
	for _, p := range []string{"/js/call.js", "/css/parley.css", "/r/x", "/"} {
		if v := get(t, h, "GET", p).Header().Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding" {
			t.Errorf("%s: Vary = %q, want Accept-Encoding", p, v)
		}
	}
	// A page is gzipped too.
	if get(t, h, "GET", "/r/x", "Accept-Encoding", "gzip").Header().Get("Content-Encoding") != "gzip" {
		t.Error("room page not gzipped")
	}
}

// assetRef finds the quoted absolute URLs a page references.
var assetRef = regexp.MustCompile(`(?:src|href)="(/[^"]*)"`)

// TestVersionedAssets: the pages reference every file of the tree under
// one versioned path, which is cached as immutable and reachable (so are
// the files the modules import relatively); the pages themselves and
// unversioned or stale URLs are revalidated.
func TestVersionedAssets(t *testing.T) {
	h := Handler(Options{})
	tr, err := loadTree(files)
	if err != nil {
		t.Fatal(err)
	}
	prefix := assetsPrefix + tr.hash + "/"
	for _, page := range []string{"/", "/r/x", "/admin", "/nope"} {
		rec := get(t, h, "GET", page)
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", page, cc)
		}
		refs := assetRef.FindAllStringSubmatch(rec.Body.String(), -1)
		if len(refs) == 0 {
			t.Fatalf("%s references nothing", page)
		}
		for _, m := range refs {
			u := m[1]
			if u == "/" || u == "" {
				continue // a link to the home page
			}
			if !strings.HasPrefix(u, prefix) {
				t.Errorf("%s references %s, not versioned under %s", page, u, prefix)
				continue
			}
			a := get(t, h, "GET", u)
			if a.Code != http.StatusOK || a.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Errorf("%s: status %d, Cache-Control %q", u, a.Code, a.Header().Get("Cache-Control"))
			}
		}
	}
	// A module's relative import resolves inside the versioned tree.
	app := get(t, h, "GET", prefix+"js/app.js").Body.String()
	if !strings.Contains(app, "from './") {
		t.Fatal("app.js has no relative import to check")
	}
	if rec := get(t, h, "GET", prefix+"js/signaling.js"); rec.Code != 200 || rec.Header().Get("Cache-Control") != cacheImmutable {
		t.Errorf("relative import target: %d %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	for _, tc := range []struct {
		path, cc string
		code     int
	}{
		{"/js/app.js", "no-cache", 200},
		{assetsPrefix + "0123456789abcdef/js/app.js", "no-cache", 200}, // another build's page
		{prefix + "html/room.html", "", 404},
		{prefix + "js/nope.js", "", 404},
		{prefix + "js/rooms.test.js", "", 404},
		{prefix + "embed.go", "", 404},
	} {
		rec := get(t, h, "GET", tc.path)
		if rec.Code != tc.code || (tc.cc != "" && rec.Header().Get("Cache-Control") != tc.cc) {
			t.Errorf("%s: %d %q, want %d %q", tc.path, rec.Code, rec.Header().Get("Cache-Control"), tc.code, tc.cc)
		}
	}
}

// TestVersioningCoversNewDirs: a directory added under web/ later (an
// import map over vendored modules) is versioned by the same rule, with
// no change to this package beyond the go:embed line.
func TestVersioningCoversNewDirs(t *testing.T) {
	fsys := fstest.MapFS{
		"html/room.html": {Data: []byte(`<script type="importmap">{"imports":{"ts-mls":"/vendor/ts-mls/index.js"}}</script>` +
			`<script type="module" src="/js/app.js"></script><a href="/">home</a><a href="/r/x">room</a>`)},
		"js/app.js":              {Data: []byte(`import './x.js';`)},
		"vendor/ts-mls/index.js": {Data: []byte(`export {};`)},
		"vendor/README.md":       {Data: []byte(`not served`)},
	}
	tr, err := loadTree(fsys)
	if err != nil {
		t.Fatal(err)
	}
	html := string(tr.assets["/html/room.html"].body)
	for _, want := range []string{
		`"` + tr.versionedPath("/vendor/ts-mls/index.js") + `"`,
		`src="` + tr.versionedPath("/js/app.js") + `"`,
		`href="/"`, `href="/r/x"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("rewritten page lacks %s:\n%s", want, html)
		}
	}
	if _, ok := tr.assets["/vendor/README.md"]; ok {
		t.Error("a README is served")
	}
	// The hash follows the content.
	fsys["vendor/ts-mls/index.js"] = &fstest.MapFile{Data: []byte(`export const v = 2;`)}
	tr2, err := loadTree(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if tr2.hash == tr.hash {
		t.Error("changing a vendored file kept the tree's hash")
	}
}
