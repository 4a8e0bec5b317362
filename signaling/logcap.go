package signaling

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// Values a request brings (an Origin, a Host) are logged capped, and a
// refusal that anyone can repeat is logged at most once per logEvery with
// a count of the ones held back: one request with a 900 KB Origin header
// added 900 KB to the log, and a loop of them would fill the disk.

const (
	// maxLoggedValue caps one request-derived value in a log line: an
	// origin or host name is far shorter, and 256 bytes still show what
	// was sent.
	maxLoggedValue = 256
	// logEvery is the shortest interval between two log lines of one kind
	// of refusal: enough to see it happening, not enough to flood.
	logEvery = time.Second
)

// capped returns s cut to maxLoggedValue bytes at a character boundary,
// marked when it was cut.
func capped(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	n := maxLoggedValue
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(truncated)"
}

// rateLog lets one log line through per logEvery and counts the ones it
// held back meanwhile.
type rateLog struct {
	mu         sync.Mutex // guards the fields below; a leaf, never held while logging
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now, and how many were
// held back since the previous one.
func (l *rateLog) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < logEvery {
		l.suppressed++
		return false, 0
	}
	l.last, suppressed, l.suppressed = now, l.suppressed, 0
	return true, suppressed
}

// logRefusedOrigin logs a refused Origin, capped and rate-limited: the one
// place a request's Origin and Host reach the log.
func (h *Hub) logRefusedOrigin(r *http.Request) {
	ok, suppressed := h.originLog.allow(time.Now())
	if !ok {
		return
	}
	h.log.Warn("websocket origin refused", "origin", capped(r.Header.Get("Origin")), "host", capped(r.Host),
		"remote", capped(r.RemoteAddr), slog.Int("refusedSinceLastLine", suppressed))
}
