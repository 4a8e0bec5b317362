package turn

import (
	"net"
)

// pion/turn's EventHandler callbacks. pion calls them synchronously from
// its read loops and timers, some while holding its own locks, so they only
// update Parley's own state and never call back into pion.

// onAllocationCreated is pion's OnAllocationCreated event. It counts the
// allocation against the quotas and, for a UDP client, enables the fast
// path of its relay socket.
func (s *Server) onAllocationCreated(src, _ net.Addr, _, userID, _ string, relay net.Addr, _ int) {
	s.quota.created(userID, src)
	if client, ok := udpAddrPort(src); ok {
		if rc, conn := s.relayFor(relay), s.clientConn.Load(); rc != nil && conn != nil {
			rc.setClient(client, conn)
			s.fast.add(unmapAddrPort(client), rc)
		}
	}
	s.counters.allocations.Add(1)
	s.counters.allocationsTotal.Add(1)
	s.log.Debug("turn: allocation created", "client", addrString(src), "relay", addrString(relay))
}

// onAllocationDeleted is pion's OnAllocationDeleted event.
func (s *Server) onAllocationDeleted(src, _ net.Addr, _, userID, _ string) {
	s.quota.deleted(userID, src)
	s.counters.allocations.Add(-1)
	s.log.Debug("turn: allocation deleted", "client", addrString(src))
}

// onChannelCreated is pion's OnChannelCreated event: the binding passed the
// permission hook (Server.permit), so the fast path may carry it. The relay
// socket is found by port, so it must also still belong to src: a port
// freed by an ending allocation may already serve another.
func (s *Server) onChannelCreated(src, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
	s.log.Debug("turn: channel bound", "client", addrString(src), "peer", addrString(peer), "channel", number)
	rc := s.fastRelay(src, relay)
	if rc == nil {
		return
	}
	if p, ok := udpAddrPort(peer); ok {
		rc.addChannel(number, p)
	}
}

// onChannelDeleted is pion's OnChannelDeleted event (expiry, or the
// allocation ending).
func (s *Server) onChannelDeleted(src, _ net.Addr, _, _, _ string, relay, _ net.Addr, number uint16) {
	if rc := s.fastRelay(src, relay); rc != nil {
		rc.removeChannel(number)
	}
}

// fastRelay returns the relay socket on relay's port if the fast path
// serves it for client src, else nil.
func (s *Server) fastRelay(src, relay net.Addr) *relayConn {
	client, ok := udpAddrPort(src)
	if !ok {
		return nil
	}
	rc := s.relayFor(relay)
	if rc == nil {
		return nil
	}
	if cl := rc.client.Load(); cl == nil || cl.key != unmapAddrPort(client) {
		return nil
	}
	return rc
}

// relayFor finds the relay socket of an allocation from its relayed
// address (all relay sockets share one bind address, so the port is
// unique).
func (s *Server) relayFor(relay net.Addr) *relayConn {
	ap, ok := udpAddrPort(relay)
	if !ok {
		return nil
	}
	return s.relays.byPort(ap.Port())
}
