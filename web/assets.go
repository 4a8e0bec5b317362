package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// assetsPrefix starts every versioned URL: /assets/HASH/js/app.js.
const assetsPrefix = "/assets/"

// hashLen is how many hex digits of the tree's SHA-256 name a version:
// 64 bits tell builds apart with no realistic chance of a collision.
const hashLen = 16

// contentTypes maps the extensions we embed to their Content-Type; anything
// else is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".wasm": "application/wasm",
}

// compressible lists the types worth gzipping (text; wasm compresses well
// too). Images other than SVG are compressed already.
var compressible = map[string]bool{".html": true, ".js": true, ".mjs": true, ".css": true, ".json": true, ".svg": true, ".wasm": true}

// asset is one served file: its bytes, and the gzipped bytes when they are
// smaller.
type asset struct {
	body   []byte
	gz     []byte // nil: sent as is
	ctype  string
	etag   string
	gzEtag string
}

// top is a top-level entry of the tree (js, css, favicon.svg, …).
type top struct {
	name string
	dir  bool
}

// tree is the whole served client, read once at start-up and never
// changed after: the handler reads it from many goroutines without a lock.
type tree struct {
	assets map[string]*asset // by URL path, e.g. "/js/app.js"
	hash   string            // version of the whole tree
	tops   []top             // top-level names other than html/
	// scriptHashes are the CSP sources ("sha256-…") of the inline import
	// maps of the pages, taken after the rewrite to versioned URLs (which
	// changes their bytes, so no hash written in the source could match).
	scriptHashes []string
}

// loadTree reads every servable file, hashes the tree, rewrites the HTML
// to versioned URLs and compresses what is worth it.
func loadTree(fsys fs.FS) (*tree, error) {
	t := &tree{assets: map[string]*asset{}}
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := contentTypes[path.Ext(p)]; !ok || strings.HasSuffix(p, ".test.js") {
			return nil // node tests and anything unexpected stay private
		}
		if strings.HasPrefix(p, "vendor/") && path.Ext(p) != ".js" && path.Ext(p) != ".mjs" {
			return nil // of the vendored packages the browser needs only the modules
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	sum := sha256.New()
	seen := map[string]bool{}
	for _, p := range names {
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", p, len(body))
		sum.Write(body)
		t.assets["/"+p] = &asset{body: body, ctype: contentTypes[path.Ext(p)]}
		first, _, isDir := strings.Cut(p, "/")
		if first != "html" && !seen[first] {
			seen[first] = true
			t.tops = append(t.tops, top{name: first, dir: isDir})
		}
	}
	t.hash = hex.EncodeToString(sum.Sum(nil))[:hashLen]
	for p, a := range t.assets {
		if strings.HasPrefix(p, "/html/") {
			a.body = t.rewrite(a.body)
			if m, ok := importMap(a.body); ok {
				sum := sha256.Sum256(m)
				t.scriptHashes = append(t.scriptHashes, "sha256-"+base64.StdEncoding.EncodeToString(sum[:]))
			}
		}
		if err := a.finish(p); err != nil {
			return nil, err
		}
	}
	slices.Sort(t.scriptHashes)
	return t, nil
}

// rewrite turns every quoted absolute reference to a file of the tree in an
// HTML page ("/js/x.js", '/css/…', "/favicon.svg") into its versioned URL.
// Only quoted URLs that start with a top-level name of the tree are
// touched, so links to pages ("/", "/r/…", "/admin") stay as they are.
func (t *tree) rewrite(html []byte) []byte {
	for _, tp := range t.tops {
		suffix := "/"
		if !tp.dir {
			suffix = ""
		}
		for _, q := range []string{`"`, `'`} {
			from := q + "/" + tp.name + suffix
			to := q + assetsPrefix + t.hash + "/" + tp.name + suffix
			html = bytes.ReplaceAll(html, []byte(from), []byte(to))
		}
	}
	return html
}

// importMap returns the contents of a page's <script type="importmap">.
func importMap(html []byte) ([]byte, bool) {
	const open, end = `<script type="importmap">`, `</script>`
	_, rest, ok := bytes.Cut(html, []byte(open))
	if !ok {
		return nil, false
	}
	m, _, ok := bytes.Cut(rest, []byte(end))
	return m, ok
}

// finish computes the ETags and the compressed copy of a.
func (a *asset) finish(p string) error {
	s := sha256.Sum256(a.body)
	a.etag = `"` + hex.EncodeToString(s[:8]) + `"`
	if !compressible[path.Ext(p)] {
		return nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return fmt.Errorf("gzip %s: %w", p, err)
	}
	zw.Write(a.body)
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip %s: %w", p, err)
	}
	if buf.Len() < len(a.body) {
		a.gz = buf.Bytes()
		a.gzEtag = `"` + hex.EncodeToString(s[:8]) + `-gz"`
	}
	return nil
}

// versionedPath returns the versioned URL of a file of the tree, e.g.
// "/js/app.js" → "/assets/HASH/js/app.js".
func (t *tree) versionedPath(p string) string {
	return assetsPrefix + t.hash + p
}
