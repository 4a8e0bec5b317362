package turn

import (
	"net"
	"net/netip"
	"slices"
)

// permit is the pion/turn PermissionHandler, called for every peer address
// of a CreatePermission (RFC 8656 §10.2: "the server MAY impose
// restrictions on the IP address allowed in the XOR-PEER-ADDRESS
// attribute; if a value is not allowed, the server rejects the request with
// a 403 (Forbidden) error") and of a ChannelBind (§12.2, same rule; pion
// v5.1.1 answers 401 there).
//
// Peers are classified by internal/netpolicy after unmapping IPv4-mapped
// IPv6, so ::ffff:127.0.0.1 is loopback (coturn CVE-2020-26262). The one
// exception is the server's own relay address: two relayed clients talk
// relay to relay through it, and the SFU lives there too. The hook sees no
// port, so the permission is granted here and the port is enforced on the
// relay socket (relayConn.WriteTo, selfSet.allowedPort).
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	addr, ok := netip.AddrFromSlice(peer)
	addr = addr.Unmap()
	if ok && addr == s.publicIP {
		return true
	}
	reason, allowed := s.policy.Check(addr)
	if allowed {
		return true
	}
	s.counters.permRefused[reason].Add(1)
	s.log.Debug("turn: relay permission refused", "client", addrString(client), "peer", addr.String(), "reason", reason.String())
	return false
}

// selfSet knows which addresses are the server itself and which of its
// ports relays may reach. Any address that reaches this host counts,
// whatever the permission policy says: even with loopback or the LAN in
// AllowPeers, a relay must not become a way into the server's own admin
// API, SSH, database or its own TURN port (a relay writing to the TURN
// port would let one allocation act as another's client: the TURN loop
// attack of RFC 8656 §21). It is immutable once built.
type selfSet struct {
	addrs            []netip.Addr // unmapped, without zone
	portMin, portMax uint16       // relay range
	extra            []uint16     // SelfPorts
	deny             []uint16     // the TURN listen ports, refused even inside the relay range
}

// isSelf reports whether a datagram to ip would reach this host: loopback,
// unspecified and 0.0.0.0/8 (which Linux delivers locally), the public
// relay address, and every address of the host's interfaces.
func (ss *selfSet) isSelf(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0) {
		return true
	}
	for _, a := range ss.addrs {
		if a == ip {
			return true
		}
	}
	return false
}

// allowedPort reports whether relays may send to port on the server
// itself: the relay range (relay-to-relay calls), SelfPorts (the SFU), but
// never the TURN listen ports.
func (ss *selfSet) allowedPort(port uint16) bool {
	for _, p := range ss.deny {
		if p == port {
			return false
		}
	}
	if port >= ss.portMin && port <= ss.portMax {
		return true
	}
	for _, p := range ss.extra {
		if p == port {
			return true
		}
	}
	return false
}

// newSelfSet collects the host's addresses at start. Interfaces that appear
// later (a new DHCP lease) are not known; loopback and the public address
// always are.
func newSelfSet(public netip.Addr, listenIPs []netip.Addr, portMin, portMax uint16, extra, deny []uint16) *selfSet {
	ss := &selfSet{
		portMin: portMin,
		portMax: portMax,
		extra:   slices.Clone(extra),
		deny:    slices.Clone(deny),
	}
	add := func(a netip.Addr) {
		a = a.Unmap().WithZone("")
		if a.IsValid() && !slices.Contains(ss.addrs, a) {
			ss.addrs = append(ss.addrs, a)
		}
	}
	add(public)
	for _, a := range listenIPs {
		add(a)
	}
	if ifAddrs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range ifAddrs {
			if ipnet, ok := ia.(*net.IPNet); ok {
				if a, ok := netip.AddrFromSlice(ipnet.IP); ok {
					add(a)
				}
			}
		}
	}
	return ss
}
