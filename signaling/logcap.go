package signaling

import (
	"net/http"

	"github.com/parleyhq/parley/internal/logsafe"
)

// logRefusedOrigin logs a refused Origin, capped and rate-limited
// (internal/logsafe): the one place a request's Origin and Host reach the
// log. One request with a 900 KB Origin header used to add 900 KB to the
// log, and a loop of them would fill the disk.
func (h *Hub) logRefusedOrigin(r *http.Request) {
	h.refusals.Warn(r.Context(), "origin", "websocket origin refused",
		logsafe.String("origin", r.Header.Get("Origin")), logsafe.String("host", r.Host),
		logsafe.String("remote", r.RemoteAddr))
}
