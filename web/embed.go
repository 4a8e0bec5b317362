// Package web serves Parley's browser client: plain ES modules, CSS and
// four HTML pages, embedded in the binary (no build step).
//
//	/             the landing page (start or join a room)
//	/r/{room}     the room page (lobby, then the call); room names follow
//	              docs/protocol.md, anything else gets the 404 page
//	/admin        the admin page (on the token-protected /api/admin/)
//	/js/…, /css/… static assets
//	/vendor/…     the pinned browser libraries (web/vendor/README.md)
//	/favicon.svg  the icon
//
// Every response carries a strict Content-Security-Policy (no inline
// script or style), nosniff and Referrer-Policy: no-referrer (the E2EE room
// secret will live in the URL fragment; no Referer must ever carry a page
// address elsewhere). HTML is never cached without revalidation; assets are
// revalidated by ETag.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

//go:embed html js css favicon.svg all:vendor
var files embed.FS

// CSP is the Content-Security-Policy of every response. The one inline
// script allowed is room.html's import map, by its SHA-256 (importMapHash;
// TestImportMapHash keeps the two in step): browsers take import maps
// only inline.
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; style-src 'self'; script-src 'self' '" + importMapHash + "'; worker-src 'self' blob:"

// importMapHash is the CSP source of room.html's <script type="importmap">.
const importMapHash = "sha256-SMwHmRDaYd0tmlWdP+eX7yM9MG+/vE6/DVvflM0HTa8="

// VendorEntry is the file the room page cannot work without; Handler's
// caller can check it with HasVendor (scripts/vendor-web.sh makes it).
const VendorEntry = "/vendor/node_modules/ts-mls/dist/src/index.js"

var roomRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// contentTypes maps the extensions we embed to their Content-Type; anything
// else is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler returns the http.Handler for the web client. Mount it at "/"; the
// WebSocket endpoint /ws is mounted separately.
func Handler() http.Handler {
	assets := map[string]*asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok || strings.HasSuffix(p, ".test.js") {
			return nil // node tests and anything unexpected stay private
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets["/"+p] = &asset{body: body, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: reading embedded files: " + err.Error()) // cannot happen with a valid build
	}
	h := &handler{assets: assets}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page("/html/index.html"))
	mux.HandleFunc("GET /r/{room}", func(w http.ResponseWriter, r *http.Request) {
		if !roomRE.MatchString(r.PathValue("room")) {
			h.notFound(w, r)
			return
		}
		h.serve(w, r, "/html/room.html", http.StatusOK)
	})
	mux.HandleFunc("GET /admin", h.page("/html/admin.html"))
	mux.HandleFunc("GET /js/", h.static)
	mux.HandleFunc("GET /css/", h.static)
	mux.HandleFunc("GET /vendor/", h.static)
	mux.HandleFunc("GET /favicon.svg", h.static)
	// Browsers ask for /favicon.ico whatever the page links; give them the SVG.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, "/favicon.svg", http.StatusOK)
	})
	mux.HandleFunc("/", h.notFound)
	return securityHeaders(mux)
}

// ErrNoVendor: the binary was built without web/vendor/node_modules.
var ErrNoVendor = errors.New("web: built without the vendored browser libraries (MLS): run scripts/vendor-web.sh, then rebuild")

// HasVendor reports whether the binary embeds the vendored browser
// libraries: without them the room page cannot encrypt and refuses to join.
func HasVendor() bool {
	_, err := fs.Stat(files, VendorEntry[1:])
	return err == nil
}

type handler struct {
	assets map[string]*asset
}

func (h *handler) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, name, http.StatusOK) }
}

func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if _, ok := h.assets[p]; !ok || strings.HasPrefix(p, "/html/") {
		h.notFound(w, r)
		return
	}
	h.serve(w, r, p, http.StatusOK)
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.serve(w, r, "/html/notfound.html", http.StatusNotFound)
}

// zeroTime makes http.ServeContent skip Last-Modified (embedded files have
// no modification time); the ETag does the revalidation.
var zeroTime time.Time

func (h *handler) serve(w http.ResponseWriter, r *http.Request, name string, status int) {
	a := h.assets[name]
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	// no-cache = revalidate every time: a new binary's client is picked up at
	// once, and an unchanged file costs a 304.
	hd.Set("Cache-Control", "no-cache")
	if status != http.StatusOK {
		w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(a.body)
		}
		return
	}
	hd.Set("ETag", a.etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(a.body))
}

// securityHeaders sets the headers every response of the web client carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Camera, microphone and screen capture for this origin only.
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)")
		next.ServeHTTP(w, r)
	})
}
