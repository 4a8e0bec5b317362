package logsafe

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is how often one reason may be logged: once a second
// keeps an attacker's retry loop to one line a second while a person
// reading the log still sees that it happens and how much.
const DefaultInterval = time.Second

// maxReasons bounds the Limiter's table. Reasons are names chosen in the
// code, never request data, so real use stays far below; past the bound
// the extra reasons share one slot rather than growing the map.
const maxReasons = 256

// overflowReason is the shared slot used past maxReasons.
const overflowReason = "logsafe-overflow"

// SuppressedKey is the attribute that carries how many lines of the same
// reason were left out since the last one logged.
const SuppressedKey = "suppressed"

// Limiter logs each reason at most once per interval. Lines in between
// are counted, not written; the next line logged for that reason carries
// the count as SuppressedKey. Safe for concurrent use.
type Limiter struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex // guards reasons; never held while logging
	reasons map[string]*window
}

// window is one reason's state: when it was last logged and how many
// lines were dropped since.
type window struct {
	last       time.Time
	suppressed int
}

// NewLimiter returns a Limiter writing to log; interval <= 0 means
// DefaultInterval.
func NewLimiter(log *slog.Logger, interval time.Duration) *Limiter {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Limiter{log: log, interval: interval, now: time.Now, reasons: map[string]*window{}}
}

// Log writes msg with args at level unless reason was logged less than an
// interval ago; it reports whether it wrote. reason must be a constant
// from the code (e.g. "origin", "admin-token"), never request data, and
// args must already be capped (String, Value).
func (l *Limiter) Log(ctx context.Context, level slog.Level, reason, msg string, args ...any) bool {
	if !l.log.Enabled(ctx, level) {
		return false
	}
	n, ok := l.take(reason)
	if !ok {
		return false
	}
	if n > 0 {
		args = append(args, slog.Int(SuppressedKey, n))
	}
	l.log.Log(ctx, level, msg, args...)
	return true
}

// Warn is Log at slog.LevelWarn.
func (l *Limiter) Warn(ctx context.Context, reason, msg string, args ...any) bool {
	return l.Log(ctx, slog.LevelWarn, reason, msg, args...)
}

// Info is Log at slog.LevelInfo.
func (l *Limiter) Info(ctx context.Context, reason, msg string, args ...any) bool {
	return l.Log(ctx, slog.LevelInfo, reason, msg, args...)
}

// Debug is Log at slog.LevelDebug.
func (l *Limiter) Debug(ctx context.Context, reason, msg string, args ...any) bool {
	return l.Log(ctx, slog.LevelDebug, reason, msg, args...)
}

// take decides under the lock whether reason may be logged now, and
// returns how many lines were suppressed since its last line.
func (l *Limiter) take(reason string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.reasons[reason]
	if !ok {
		if len(l.reasons) >= maxReasons {
			reason = overflowReason
			w = l.reasons[reason]
		}
		if w == nil {
			w = &window{}
			l.reasons[reason] = w
		}
	}
	now := l.now()
	if !w.last.IsZero() && now.Sub(w.last) < l.interval {
		w.suppressed++
		return 0, false
	}
	n := w.suppressed
	w.last, w.suppressed = now, 0
	return n, true
}
