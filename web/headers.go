package web

import (
	"net/http"
	"strings"
)

// baseCSP is the Content-Security-Policy without its frame-ancestors
// directive: no inline script or style, everything from this origin.
const baseCSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; style-src 'self'; script-src 'self'; worker-src 'self' blob:"

// CSP returns the Content-Security-Policy of every response. Without
// embedders no page may frame Parley (clickjacking of the camera and
// share controls); with them, only those origins may.
func CSP(embedOrigins []string) string {
	if len(embedOrigins) == 0 {
		return baseCSP + "; frame-ancestors 'none'"
	}
	return baseCSP + "; frame-ancestors " + strings.Join(embedOrigins, " ")
}

// securityHeaders sets the headers every response of the web client carries.
func securityHeaders(embedOrigins []string, next http.Handler) http.Handler {
	csp := CSP(embedOrigins)
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
