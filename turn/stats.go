package turn

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"

	"github.com/parleyhq/parley/internal/netpolicy"
)

// Stats is a snapshot of the relay's counters, for the metrics endpoint and
// the admin page. Counters only grow, except Allocations. The maps always
// hold every reason, zeros included, so metric label sets are stable.
type Stats struct {
	// Allocations is the number of live allocations.
	Allocations int64
	// AllocationsTotal counts allocations created since start.
	AllocationsTotal uint64
	// AllocationsRefused counts refused Allocate requests by reason:
	// "credential" (malformed username or wrong MESSAGE-INTEGRITY),
	// "expired", "user_quota", "ip_quota" (486), "capacity" (508),
	// "tcp" (RFC 6062 TCP relay asked for), "family" (relay address
	// family not offered).
	AllocationsRefused map[string]uint64
	// PermissionsRefused counts refused CreatePermission/ChannelBind peer
	// addresses by netpolicy reason ("loopback", "private", ...).
	PermissionsRefused map[string]uint64
	// SelfPortDrops counts datagrams a client tried to relay to the
	// server's own address on a port outside the relay range and SelfPorts;
	// they were not sent.
	SelfPortDrops uint64
	// PacketsToPeers and BytesToPeers count datagrams relayed from clients
	// to peers (payload bytes, without TURN framing).
	PacketsToPeers, BytesToPeers uint64
	// PacketsFromPeers and BytesFromPeers count datagrams received from
	// peers on relay sockets.
	PacketsFromPeers, BytesFromPeers uint64
}

// refusal is why an Allocate request was refused.
type refusal int

const (
	refusedCredential refusal = iota
	refusedExpired
	refusedUserQuota
	refusedIPQuota
	refusedCapacity
	refusedTCP
	refusedFamily
	refusalCount // keep last
)

var refusalNames = [...]string{
	refusedCredential: "credential",
	refusedExpired:    "expired",
	refusedUserQuota:  "user_quota",
	refusedIPQuota:    "ip_quota",
	refusedCapacity:   "capacity",
	refusedTCP:        "tcp",
	refusedFamily:     "family",
}

// String returns the Stats.AllocationsRefused key of r.
func (r refusal) String() string {
	if r < 0 || r >= refusalCount {
		return "unknown"
	}
	return refusalNames[r]
}

// counters are the server's event counters: atomics, so the paths that
// bump them never take a lock. Per-packet counters are not here: they live
// on each relay socket (see relayConn) so that sockets served by different
// CPUs do not contend on one cache line.
type counters struct {
	allocations      atomic.Int64
	allocationsTotal atomic.Uint64
	allocRefused     [refusalCount]atomic.Uint64
	permRefused      [netpolicy.NumReasons]atomic.Uint64
}

// traffic is a relay socket's packet and byte counts. The two directions
// are bumped by different goroutines (the listening socket's read loop and
// the relay socket's), so they sit on different cache lines.
type traffic struct {
	pktsOut, bytesOut atomic.Uint64 // client → peer
	selfPortDrops     atomic.Uint64
	_                 cpu.CacheLinePad
	pktsIn, bytesIn   atomic.Uint64 // peer → client
}

// relayRegistry tracks live relay sockets, so Stats can add up their
// traffic and Close can close them, and keeps the traffic of closed ones.
type relayRegistry struct {
	mu     sync.Mutex // guards the fields below
	live   map[*relayConn]struct{}
	ports  map[uint16]*relayConn // live sockets by relay port, for pion's events
	closed struct {
		pktsOut, bytesOut, pktsIn, bytesIn, selfPortDrops uint64
	}
}

func (r *relayRegistry) add(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil {
		r.live = make(map[*relayConn]struct{})
		r.ports = make(map[uint16]*relayConn)
	}
	r.live[c] = struct{}{}
	r.ports[c.port] = c
}

// byPort returns the live relay socket on port, or nil.
func (r *relayRegistry) byPort(port uint16) *relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ports[port]
}

// remove folds c's traffic into the closed totals, under the same lock
// Stats reads with, so a closing socket is counted exactly once.
func (r *relayRegistry) remove(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.live[c]; !ok {
		return
	}
	delete(r.live, c)
	if r.ports[c.port] == c {
		delete(r.ports, c.port)
	}
	r.closed.pktsOut += c.traffic.pktsOut.Load()
	r.closed.bytesOut += c.traffic.bytesOut.Load()
	r.closed.pktsIn += c.traffic.pktsIn.Load()
	r.closed.bytesIn += c.traffic.bytesIn.Load()
	r.closed.selfPortDrops += c.traffic.selfPortDrops.Load()
}

// snapshot returns the live sockets (for Close) without holding the lock
// afterwards.
func (r *relayRegistry) snapshot() []*relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Keys(r.live))
}

// Stats returns a snapshot of the counters. It is cheap enough for every
// metrics scrape: it takes one lock and walks the live relay sockets.
func (s *Server) Stats() Stats {
	st := Stats{
		Allocations:        s.counters.allocations.Load(),
		AllocationsTotal:   s.counters.allocationsTotal.Load(),
		AllocationsRefused: make(map[string]uint64, refusalCount),
		PermissionsRefused: make(map[string]uint64, netpolicy.NumReasons),
	}
	for r := refusal(0); r < refusalCount; r++ {
		st.AllocationsRefused[r.String()] = s.counters.allocRefused[r].Load()
	}
	for r := netpolicy.Reason(0); int(r) < netpolicy.NumReasons; r++ {
		if r == netpolicy.Public {
			continue // never refused
		}
		st.PermissionsRefused[r.String()] = s.counters.permRefused[r].Load()
	}

	s.relays.mu.Lock()
	defer s.relays.mu.Unlock()
	c := s.relays.closed
	st.PacketsToPeers, st.BytesToPeers = c.pktsOut, c.bytesOut
	st.PacketsFromPeers, st.BytesFromPeers = c.pktsIn, c.bytesIn
	st.SelfPortDrops = c.selfPortDrops
	for rc := range s.relays.live {
		st.PacketsToPeers += rc.traffic.pktsOut.Load()
		st.BytesToPeers += rc.traffic.bytesOut.Load()
		st.PacketsFromPeers += rc.traffic.pktsIn.Load()
		st.BytesFromPeers += rc.traffic.bytesIn.Load()
		st.SelfPortDrops += rc.traffic.selfPortDrops.Load()
	}
	return st
}

// refuseAllocation counts an Allocate refusal.
func (s *Server) refuseAllocation(r refusal) {
	s.counters.allocRefused[r].Add(1)
}
