package web

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cache-Control values: a versioned URL never changes content, so it is
// cached for a year (the longest RFC 9111 recommends) and never
// revalidated; everything else is revalidated each time (a 304 when
// unchanged), so a new binary's client is picked up at once.
const (
	cacheImmutable   = "public, max-age=31536000, immutable"
	cacheRevalidated = "no-cache"
)

type handler struct {
	tree *tree
}

func (h *handler) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, name, false) }
}

// static serves a file of the tree at its unversioned URL.
func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if _, ok := h.tree.assets[p]; !ok || strings.HasPrefix(p, "/html/") {
		h.notFound(w, r)
		return
	}
	h.serve(w, r, p, false)
}

// versioned serves /assets/{hash}/{path...}. A hash from another build (a
// page loaded before a restart asking for a module) still gets the current
// file, but revalidated rather than cached for a year under a name that
// does not match its content.
func (h *handler) versioned(w http.ResponseWriter, r *http.Request) {
	p := "/" + r.PathValue("path")
	if _, ok := h.tree.assets[p]; !ok || strings.HasPrefix(p, "/html/") {
		h.notFound(w, r)
		return
	}
	h.serve(w, r, p, r.PathValue("hash") == h.tree.hash)
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a := h.tree.assets["/html/notfound.html"]
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", cacheRevalidated)
	hd.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// zeroTime makes http.ServeContent skip Last-Modified (embedded files have
// no modification time); the ETag does the revalidation.
var zeroTime time.Time

// serve sends one asset with its caching headers, gzipped when the client
// accepts it.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, name string, immutable bool) {
	a := h.tree.assets[name]
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	if immutable {
		hd.Set("Cache-Control", cacheImmutable)
	} else {
		hd.Set("Cache-Control", cacheRevalidated)
	}
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			serveGzip(w, r, a)
			return
		}
	}
	hd.Set("ETag", a.etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(a.body))
}

// serveGzip sends a's compressed body with its length. http.ServeContent
// would leave Content-Length out once Content-Encoding is set (and serve
// ranges of the compressed bytes); whole small files need neither, so the
// revalidation is done here and ranges are ignored, as RFC 9110 §14.2
// allows.
func serveGzip(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("ETag", a.gzEtag)
	hd.Set("Content-Encoding", "gzip")
	if etagMatches(r.Header.Get("If-None-Match"), a.gzEtag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(a.gz)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.gz)
	}
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, RFC 9110 §13.1.2) or is "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header list allows gzip:
// "gzip" or "*" with a q-value other than 0 (RFC 9110 §12.5.3).
func acceptsGzip(values []string) bool {
	gzip, star := -1, -1 // -1: not mentioned; 0: refused; 1: accepted
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			ok := 1
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					if q, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && q == 0 {
						ok = 0
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzip = ok
			case "*":
				star = ok
			}
		}
	}
	if gzip >= 0 {
		return gzip == 1
	}
	return star == 1
}
