package access

import (
	"sync"

	"golang.org/x/time/rate"
)

// Failed-password budget per client IP: failedBurst wrong guesses at once,
// then one every failedEvery. Ten guesses a minute make guessing even a
// short password hopeless, while a person mistyping is never held up.
const (
	failedBurst = 5
	failedEvery = 6 // seconds per refilled attempt

	// maxTrackedIPs bounds the limiter's memory (~100 bytes an entry).
	// When full, entries with a full budget (no recent failure) are
	// forgotten first.
	maxTrackedIPs = 10000
)

// ipLimiter is a bounded map of per-IP token buckets for failed attempts.
type ipLimiter struct {
	max int

	mu sync.Mutex // guards m
	m  map[string]*rate.Limiter
}

func newIPLimiter(max int) *ipLimiter {
	return &ipLimiter{max: max, m: make(map[string]*rate.Limiter)}
}

// mayTry reports whether ip has a failed attempt left to spend.
func (l *ipLimiter) mayTry(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[ip]
	return lim == nil || lim.Tokens() >= 1
}

// failed spends one of ip's attempts.
func (l *ipLimiter) failed(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[ip]
	if lim == nil {
		if len(l.m) >= l.max {
			l.evictLocked()
		}
		lim = rate.NewLimiter(rate.Limit(1.0/failedEvery), failedBurst)
		l.m[ip] = lim
	}
	lim.Allow()
}

// evictLocked makes room: it drops entries whose budget has refilled, and
// if none has, an arbitrary one (map order), so an attacker spraying
// addresses cannot grow memory.
func (l *ipLimiter) evictLocked() {
	for ip, lim := range l.m {
		if lim.Tokens() >= failedBurst {
			delete(l.m, ip)
		}
	}
	if len(l.m) < l.max {
		return
	}
	for ip := range l.m {
		delete(l.m, ip)
		if len(l.m) < l.max {
			return
		}
	}
}
