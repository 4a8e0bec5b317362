// Package web serves Parley's browser client: plain ES modules, CSS and
// four HTML pages, embedded in the binary (no build step).
//
//	/                   the landing page (start or join a room)
//	/r/{room}           the room page (lobby, then the call); room names
//	                    follow docs/protocol.md, anything else gets the 404 page
//	/admin              the admin page (on the token-protected /api/admin/)
//	/assets/{hash}/…    every file under web/ except the HTML, versioned
//	/js/…, /css/…       the same files unversioned (old pages, tools)
//	/vendor/…           the pinned browser libraries (web/vendor/README.md)
//	/favicon.svg        the icon
//
// Versioning: the whole embedded tree has one content hash, computed when
// the binary starts (go:embed fixed the bytes at build time). The HTML
// pages are rewritten once at start-up so that every absolute reference to
// a file of the tree ("/js/app.js", "/css/parley.css", "/vendor/…" in an
// import map) becomes "/assets/HASH/js/app.js". Because the hash is one
// path segment for the whole tree, the relative imports between modules
// ("./signaling.js", new URL('./e2ee-worker.js', import.meta.url)) resolve
// inside the same versioned tree without any rewriting, and a file added
// under web/ later is versioned by the same rule. Versioned responses are
// cached for a year as immutable; a new binary has a new hash, so browsers
// fetch everything afresh. HTML is never cached without revalidation.
//
// Text files are gzip-compressed once at start-up and sent compressed to
// clients that accept it (Vary: Accept-Encoding).
//
// Every response carries a strict Content-Security-Policy (no inline
// script or style, frame-ancestors 'none' unless embedders are named),
// X-Frame-Options: DENY (unless embedders are named), nosniff and
// Referrer-Policy: no-referrer (the E2EE room secret lives in the URL
// fragment; no Referer must ever carry a page address elsewhere).
package web

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"regexp"
)

// The directories and files served; a directory added under web/ (e.g.
// vendor) is added here and is then versioned and served like js/.
//
//go:embed html js css favicon.svg all:vendor
var files embed.FS

// VendorEntry is the file the room page cannot work without; Handler's
// caller can check it with HasVendor (scripts/vendor-web.sh makes it).
const VendorEntry = "/vendor/node_modules/ts-mls/dist/src/index.js"

// ErrNoVendor: the binary was built without web/vendor/node_modules.
var ErrNoVendor = errors.New("web: built without the vendored browser libraries (MLS): run scripts/vendor-web.sh, then rebuild")

// HasVendor reports whether the binary embeds the vendored browser
// libraries: without them the room page cannot encrypt and refuses to join.
func HasVendor() bool {
	_, err := fs.Stat(files, VendorEntry[1:])
	return err == nil
}

// Options configures the web client's handler.
type Options struct {
	// EmbedOrigins are the origins (scheme://host[:port]) allowed to
	// show Parley in a frame. Empty: no site may frame it.
	EmbedOrigins []string
}

var roomRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Handler returns the http.Handler for the web client. Mount it at "/"; the
// WebSocket endpoint /ws is mounted separately.
func Handler(opts Options) http.Handler {
	t, err := loadTree(files)
	if err != nil {
		panic("web: reading embedded files: " + err.Error()) // cannot happen with a valid build
	}
	h := &handler{tree: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page("/html/index.html"))
	mux.HandleFunc("GET /r/{room}", func(w http.ResponseWriter, r *http.Request) {
		if !roomRE.MatchString(r.PathValue("room")) {
			h.notFound(w, r)
			return
		}
		h.serve(w, r, "/html/room.html", false)
	})
	mux.HandleFunc("GET /admin", h.page("/html/admin.html"))
	mux.HandleFunc("GET "+assetsPrefix+"{hash}/{path...}", h.versioned)
	for _, top := range t.tops {
		if top.dir {
			mux.HandleFunc("GET /"+top.name+"/", h.static)
		} else {
			mux.HandleFunc("GET /"+top.name, h.static)
		}
	}
	// Browsers ask for /favicon.ico whatever the page links; give them the SVG.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, "/favicon.svg", false)
	})
	mux.HandleFunc("/", h.notFound)
	return securityHeaders(opts.EmbedOrigins, t.scriptHashes, mux)
}
