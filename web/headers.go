package web

import (
	"net/http"
	"strings"
)

// CSP returns the Content-Security-Policy of every response: no inline
// style, and no inline script but the ones allowed by their SHA-256
// (scriptHashes, "sha256-…": the room page's import map, which browsers
// take only inline). Without embedders no page may frame Parley
// (clickjacking of the camera and share controls); with them, only those
// origins may.
func CSP(embedOrigins, scriptHashes []string) string {
	script := "'self'"
	for _, h := range scriptHashes {
		script += " '" + h + "'"
	}
	csp := "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; " +
		"media-src 'self' blob:; style-src 'self'; script-src " + script + "; worker-src 'self' blob:"
	if len(embedOrigins) == 0 {
		return csp + "; frame-ancestors 'none'"
	}
	return csp + "; frame-ancestors " + strings.Join(embedOrigins, " ")
}

// securityHeaders sets the headers every response of the web client carries.
func securityHeaders(embedOrigins, scriptHashes []string, next http.Handler) http.Handler {
	csp := CSP(embedOrigins, scriptHashes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		// X-Frame-Options for browsers without frame-ancestors; it cannot
		// name an allowed origin, so with embedders it is left out and the
		// CSP alone decides.
		if len(embedOrigins) == 0 {
			h.Set("X-Frame-Options", "DENY")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Camera, microphone and screen capture for this origin only.
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)")
		next.ServeHTTP(w, r)
	})
}
