// Package logsafe keeps request-derived values from flooding the log: a
// client controls the size of what it sends (a 900 KB Origin header is one
// request) and how often it sends it, so every value taken from a request
// is capped before it is logged, and refusals a client can repeat at will
// are logged at most once per interval per reason, with a count of the
// lines left out.
//
// Use Value or String for one value, and a Limiter for a refusal path:
//
//	lim := logsafe.NewLimiter(log, logsafe.DefaultInterval)
//	lim.Warn(ctx, "origin", "websocket origin refused", logsafe.String("origin", origin))
package logsafe

import (
	"log/slog"
	"unicode/utf8"
)

// MaxValueBytes caps one logged value. 256 bytes holds any real Origin,
// Host, path or address with room to spare; more is noise or an attack.
const MaxValueBytes = 256

// TruncatedMark ends a capped value, so a reader knows it was cut.
const TruncatedMark = "…[truncated]"

// Value returns s cut to at most MaxValueBytes (on a UTF-8 boundary) with
// TruncatedMark appended, or s itself when it is short enough. Invalid
// UTF-8 is kept as is; the log handler quotes it.
func Value(s string) string {
	if len(s) <= MaxValueBytes {
		return s
	}
	cut := MaxValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + TruncatedMark
}

// String is slog.String with the value capped by Value.
func String(key, value string) slog.Attr {
	return slog.String(key, Value(value))
}
