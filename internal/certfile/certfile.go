// Package certfile serves a TLS certificate from a pair of PEM files and
// reloads it when the files change, so that a renewal (certbot, an
// operator copying new files) needs no restart. Parley's HTTPS listener and
// its TURN-over-TLS listener share one Reloader.
package certfile

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckInterval is how often a Reloader looks at the files' mtimes:
// often enough that a renewal is picked up within a minute, rarely enough
// that handshakes do not stat files.
const DefaultCheckInterval = 30 * time.Second

// Reloader is a tls.Config.GetCertificate that re-reads the files when
// their modification time changes. A pair that fails to load (a renewal
// caught half-written) keeps the previous certificate and is retried at
// the next check.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	// CheckInterval is how often the files are looked at (default
	// DefaultCheckInterval); set before the first handshake.
	CheckInterval time.Duration

	mu        sync.Mutex // guards the fields below
	cert      *tls.Certificate
	modTime   time.Time // newer of the two files' mtimes at the last load
	checkedAt time.Time
}

// New loads the pair once: a pair that cannot be loaded at start is a
// configuration error.
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, CheckInterval: DefaultCheckInterval}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) load() error {
	mod, err := r.filesModTime()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.modTime, r.checkedAt = &cert, mod, time.Now()
	return nil
}

func (r *Reloader) filesModTime() (time.Time, error) {
	var newest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return time.Time{}, fmt.Errorf("certificate: %w", err)
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checkedAt) >= r.CheckInterval {
		r.checkedAt = time.Now()
		if mod, err := r.filesModTime(); err == nil && !mod.Equal(r.modTime) {
			if err := r.load(); err != nil {
				r.log.Warn("reloading the TLS certificate failed; keeping the old one", "err", err)
			} else {
				r.log.Info("TLS certificate reloaded", "file", r.certFile)
			}
		}
	}
	return r.cert, nil
}
