package turn

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// relayBindAttempts is how many random ports of the relay range Allocate
// tries before answering 508. With the range 90 % full, 64 random picks
// all fail with probability 0.9^64 ≈ 0.1 %.
const relayBindAttempts = 64

// relayGenerator is the pion/turn RelayAddressGenerator. It makes each
// allocation's relay socket and is where Parley hooks in what pion has no
// hook for:
//   - the server-wide allocation cap (RFC 8656 §7.2: a server that cannot
//     allocate answers 508 Insufficient Capacity);
//   - refusing RFC 6062 TCP relays (AllocateListener/AllocateConn fail;
//     pion v5.1.1 supports them out of the box and answers 508 when the
//     generator fails);
//   - wrapping the socket in relayConn, which enforces the server's own
//     ports and counts traffic.
type relayGenerator struct {
	s        *Server
	network  string // "udp4" or "udp6": the family of the public IP
	bindIP   net.IP // where relay sockets are bound
	publicIP net.IP // what XOR-RELAYED-ADDRESS says
	self     *selfSet
}

// Validate implements pionturn.RelayAddressGenerator.
func (g *relayGenerator) Validate() error { return nil }

// AllocatePacketConn implements pionturn.RelayAddressGenerator: it binds a
// UDP socket in the relay range for a new allocation (RFC 8656 §7.2: once
// the request is accepted, the server allocates a relayed transport
// address).
func (g *relayGenerator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	// RFC 8656 §7.2 / RFC 6156: a relay of the requested family. Parley
	// relays on the family of its public address only.
	if conf.Network != g.network {
		g.refuse(conf.UserID, refusedFamily)
		return nil, nil, fmt.Errorf("%w: asked %s, relaying on %s", ErrAddressFamily, conf.Network, g.network)
	}
	if !g.s.reserveRelay() {
		g.refuse(conf.UserID, refusedCapacity)
		return nil, nil, fmt.Errorf("%w: %d allocations", ErrCapacity, g.s.cfg.MaxAllocations)
	}
	conn, port, err := g.bind(conf.RequestedPort)
	if err != nil {
		g.s.releaseRelay()
		g.refuse(conf.UserID, refusedCapacity)
		return nil, nil, err
	}
	rc := newRelayConn(conn, g.s, g.self)
	g.s.relays.add(rc)
	return rc, &net.UDPAddr{IP: g.publicIP, Port: port}, nil
}

// AllocateListener implements pionturn.RelayAddressGenerator by refusing:
// Parley offers no RFC 6062 TCP relays. Browsers never ask for them, and
// they would make the relay a general TCP proxy.
func (g *relayGenerator) AllocateListener(conf pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	g.refuse(conf.UserID, refusedTCP)
	return nil, nil, ErrTCPRelayRefused
}

// AllocateConn implements pionturn.RelayAddressGenerator by refusing RFC
// 6062 Connect (unreachable anyway: it needs a TCP allocation).
func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelayRefused
}

// refuse counts and logs a refused allocation and gives back the quota slot
// the request reserved.
func (g *relayGenerator) refuse(userID string, r refusal) {
	g.s.refuseAllocation(r)
	if userID != "" {
		g.s.quota.abandon(userID)
	}
	g.s.log.Debug("turn: allocation refused", "reason", r.String())
}

// bind opens the relay socket: on requested when a RESERVATION-TOKEN or
// EVEN-PORT flow asked for one (RFC 8656 §7.2 steps 5-6), else on a random
// port of the range; random so that relay addresses are hard to guess.
func (g *relayGenerator) bind(requested int) (*net.UDPConn, int, error) {
	lo, hi := int(g.self.portMin), int(g.self.portMax)
	if requested != 0 {
		if requested < lo || requested > hi || !g.self.allowedPort(uint16(requested)) {
			return nil, 0, fmt.Errorf("%w: requested port %d", ErrNoRelayPort, requested)
		}
		conn, err := net.ListenUDP(g.network, &net.UDPAddr{IP: g.bindIP, Port: requested})
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", ErrNoRelayPort, err)
		}
		return conn, requested, nil
	}
	for range relayBindAttempts {
		port := lo + rand.IntN(hi-lo+1)
		if !g.self.allowedPort(uint16(port)) {
			continue // a TURN listen port inside the range
		}
		conn, err := net.ListenUDP(g.network, &net.UDPAddr{IP: g.bindIP, Port: port})
		if err == nil {
			return conn, port, nil
		}
	}
	return nil, 0, fmt.Errorf("%w %d-%d after %d attempts", ErrNoRelayPort, lo, hi, relayBindAttempts)
}

// reserveRelay takes one of the MaxAllocations relay slots, or reports that
// none is left. It is a compare-and-swap loop, so the cap holds exactly
// however many sockets allocate at once.
func (s *Server) reserveRelay() bool {
	limit := int64(s.cfg.MaxAllocations)
	for {
		n := s.relayCount.Load()
		if n >= limit {
			return false
		}
		if s.relayCount.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// releaseRelay gives back a relay slot.
func (s *Server) releaseRelay() { s.relayCount.Add(-1) }

// relayConn is an allocation's relay socket as pion/turn sees it. It adds,
// at no allocation per packet:
//   - the port rule for the server's own addresses (WriteTo): the
//     permission hook cannot see ports, so this is where "only the relay
//     range and SelfPorts" is enforced;
//   - traffic counters;
//   - the peer → client half of the ChannelData fast path (fastpath.go);
//   - an addrCache of peer addresses (ReadFrom), so a stream from a peer
//     does not allocate an address per datagram as net.UDPConn.ReadFrom
//     does.
type relayConn struct {
	conn *net.UDPConn
	port uint16 // the relay port, the key of relayRegistry.ports
	s    *Server
	self *selfSet

	traffic   traffic
	warned    atomic.Bool // the first self-port drop was logged
	closeOnce sync.Once

	client   atomic.Pointer[fastClient]    // nil: no fast path (TCP client, or not yet known)
	channels atomic.Pointer[[]fastChannel] // copy-on-write, updated from pion's channel events
	chanMu   sync.Mutex                    // serializes channel updates

	// Only ReadFrom touches these, and pion/turn reads a relay socket from
	// exactly one goroutine (Allocation.packetConnHandler).
	peers addrCache
	buf   []byte // channelHeader + relayMaxDatagram, allocated on first read
}

func newRelayConn(conn *net.UDPConn, s *Server, self *selfSet) *relayConn {
	var port uint16
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		port = uint16(ua.Port)
	}
	return &relayConn{conn: conn, port: port, s: s, self: self, peers: newAddrCache(relayAddrCacheSize)}
}

// ReadFrom reads a datagram from a peer (RFC 8656 §11.3, §12.7). Datagrams
// from a peer bound to a channel of a UDP client are framed as ChannelData
// and sent to the client right here (the fast path); the others are handed
// to pion, which checks the peer's permission and sends a Data indication
// or drops them.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.buf == nil {
		c.buf = make([]byte, channelHeader+relayMaxDatagram)
	}
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(c.buf[channelHeader:])
		if err != nil {
			return 0, nil, err
		}
		c.traffic.pktsIn.Add(1)
		c.traffic.bytesIn.Add(uint64(n))
		if cl := c.client.Load(); cl != nil {
			if number, ok := c.channelFor(from); ok {
				// RFC 8656 §12.7: relay as ChannelData on the bound channel.
				binary.BigEndian.PutUint16(c.buf, number)
				binary.BigEndian.PutUint16(c.buf[2:], uint16(n))
				_, _ = cl.conn.WriteToUDPAddrPort(c.buf[:channelHeader+n], cl.addr) // best effort, as pion
				continue
			}
		}
		return copy(p, c.buf[channelHeader:channelHeader+n]), c.peers.get(from), nil
	}
}

// WriteTo sends a client's datagram to a peer that holds a permission
// (RFC 8656 §11.2, §12.6), for pion's slow path.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := udpAddrPort(addr)
	if !ok || ap.Port() == 0 {
		return 0, ErrNotUDPAddr
	}
	return c.writeToPeer(p, ap)
}

// writeToPeer sends to a peer. Toward the server's own addresses only the
// relay range and SelfPorts are allowed; anything else is dropped, counted,
// and reported as ErrSelfPort (pion only logs it).
func (c *relayConn) writeToPeer(p []byte, peer netip.AddrPort) (int, error) {
	ip := peer.Addr().Unmap()
	if c.self.isSelf(ip) && !c.self.allowedPort(peer.Port()) {
		c.traffic.selfPortDrops.Add(1)
		if !c.warned.Swap(true) {
			c.s.log.Debug("turn: relay to the server's own port refused", "peer", peer.String(), "relay", c.conn.LocalAddr().String())
		}
		return 0, ErrSelfPort
	}
	n, err := c.conn.WriteToUDPAddrPort(p, netip.AddrPortFrom(ip, peer.Port()))
	if err != nil {
		return n, fmt.Errorf("turn: relay write: %w", err)
	}
	c.traffic.pktsOut.Add(1)
	c.traffic.bytesOut.Add(uint64(n))
	return n, nil
}

// Close closes the socket, leaves the fast path, folds its counters into
// the server's and gives back its relay slot, once.
func (c *relayConn) Close() error {
	err := c.conn.Close()
	c.closeOnce.Do(func() {
		if cl := c.client.Load(); cl != nil {
			c.s.fast.remove(cl.key, c)
		}
		c.s.relays.remove(c)
		c.s.releaseRelay()
	})
	return err
}

// LocalAddr returns the address the socket is bound to (not the advertised
// public address).
func (c *relayConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (c *relayConn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *relayConn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline implements net.PacketConn.
func (c *relayConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
