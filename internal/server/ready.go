package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/turn"
)

const (
	// turnCheckTTL is how long a TURN self-check result is reused: a
	// readiness probe every second must not cost an allocation each time.
	turnCheckTTL = 5 * time.Second
	// turnCheckTimeout bounds one self-check; on loopback it takes
	// milliseconds.
	turnCheckTimeout = 3 * time.Second
)

// readiness answers /readyz: the listeners are up and, with the embedded
// TURN server on, an allocation against it from this host succeeds.
type readiness struct {
	turn *turn.Server // nil or disabled: no TURN check
	up   atomic.Bool  // set once Serve's listeners accept
	// cluster, when set, must have its room directory (cluster_ready.go)
	cluster *cluster.Node

	mu      sync.Mutex // guards the fields below
	checked time.Time
	lastErr error
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !rd.up.Load() {
		http.Error(w, "not ready: listeners are not up", http.StatusServiceUnavailable)
		return
	}
	if err := rd.clusterOK(); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := rd.turnOK(r.Context()); err != nil {
		http.Error(w, "not ready: turn self-check failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
	rd.clusterStatus(w)
}

// turnOK returns the cached self-check result, refreshing it when stale.
// Concurrent probes wait for one check instead of each allocating.
func (rd *readiness) turnOK(ctx context.Context) error {
	if rd.turn == nil || rd.turn.Disabled() {
		return nil
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.checked) < turnCheckTTL {
		return rd.lastErr
	}
	ctx, cancel := context.WithTimeout(ctx, turnCheckTimeout)
	defer cancel()
	rd.lastErr = turnSelfCheck(ctx, rd.turn)
	rd.checked = time.Now()
	return rd.lastErr
}

// turnSelfCheck allocates a relay on the embedded server with a freshly
// minted credential, as a client would, and releases it at once.
func turnSelfCheck(ctx context.Context, ts *turn.Server) error {
	addr, ok := ts.Addr().(*net.UDPAddr)
	if !ok || addr == nil {
		return errors.New("turn server is not listening")
	}
	ice := ts.ICEServers("readyz")
	if len(ice) == 0 {
		return errors.New("turn server offers no credentials")
	}
	// Over loopback when the relay listens on every address, else on the
	// one address it listens on.
	target := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: addr.Port}
	local := "127.0.0.1:0"
	if !addr.IP.IsUnspecified() {
		target.IP = addr.IP
		local = net.JoinHostPort(addr.IP.String(), "0")
	}
	conn, err := net.ListenPacket("udp", local)
	if err != nil {
		return fmt.Errorf("client socket: %w", err)
	}
	defer conn.Close()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		TURNServerAddr: target.String(),
		Username:       ice[0].Username,
		Password:       ice[0].Credential,
		Realm:          turn.DefaultRealm,
		Conn:           conn,
		RTO:            200 * time.Millisecond,
	})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		return fmt.Errorf("client listen: %w", err)
	}
	relay, err := c.AllocateWithContext(ctx)
	if err != nil {
		return fmt.Errorf("allocate: %w", err)
	}
	return relay.Close()
}
