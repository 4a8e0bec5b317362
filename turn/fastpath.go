package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync"

	"golang.org/x/sys/cpu"
)

// channelHeader is the ChannelData header: channel number and length
// (RFC 8656 §12.4).
const channelHeader = 4

// relayMaxDatagram is the largest peer datagram relayed, pion/turn's own
// read size for relay sockets (rtpMTU): larger ones are truncated by pion
// as well.
const relayMaxDatagram = 1600

// fastShards is the number of independently locked shards of the client
// table, so the listening sockets' read loops (one per CPU) rarely touch
// the same lock.
const fastShards = 64

// fastPath relays ChannelData (RFC 8656 §12) for UDP clients without going
// through pion/turn's per-datagram path, which costs about ten heap
// allocations, several lock round-trips and log calls per datagram.
// pion/turn stays in charge of everything else: authentication,
// allocations, permissions (through Server.permit), channel bindings and
// their lifetimes. The fast path only mirrors channel bindings pion has
// accepted, from pion's OnChannelCreated/OnChannelDeleted events, so it
// never relays anything pion would not: a ChannelData for an unknown client
// or channel, a Send indication, a Data indication, or anything over TCP
// falls through to pion unchanged.
//
// Client → peer: listenConn.ReadFrom looks the client up here and writes
// the payload to the peer through the allocation's relayConn (which applies
// the server's own port rule). Peer → client: relayConn.ReadFrom frames the
// datagram as ChannelData and writes it to the client from the listening
// port. Over UDP no padding is needed (RFC 8656 §12.5).
type fastPath struct {
	shards [fastShards]fastShard
}

type fastShard struct {
	mu      sync.RWMutex // guards clients
	clients map[netip.AddrPort]*relayConn
	_       cpu.CacheLinePad
}

// fastClient is where a relay sends ChannelData for its client.
type fastClient struct {
	addr netip.AddrPort // as the listening socket reported it
	key  netip.AddrPort // unmapped, the fastPath key
	conn *net.UDPConn   // a listening socket; all share the TURN address and port
}

// fastChannel is one channel binding mirrored from pion.
type fastChannel struct {
	number uint16
	peer   netip.AddrPort // unmapped
}

func newFastPath() *fastPath {
	f := &fastPath{}
	for i := range f.shards {
		f.shards[i].clients = make(map[netip.AddrPort]*relayConn)
	}
	return f
}

func (f *fastPath) shard(key netip.AddrPort) *fastShard {
	ip := key.Addr().As16()
	h := (binary.BigEndian.Uint32(ip[12:]) ^ uint32(key.Port())<<13) * 0x9E3779B1
	return &f.shards[h>>26] // top 6 bits: fastShards = 64
}

// add routes key's ChannelData to rc.
func (f *fastPath) add(key netip.AddrPort, rc *relayConn) {
	s := f.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[key] = rc
}

// remove drops key's route if it still leads to rc.
func (f *fastPath) remove(key netip.AddrPort, rc *relayConn) {
	s := f.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[key] == rc {
		delete(s.clients, key)
	}
}

func (f *fastPath) lookup(key netip.AddrPort) *relayConn {
	s := f.shard(key)
	s.mu.RLock()
	rc := s.clients[key]
	s.mu.RUnlock()
	return rc
}

// forward relays a ChannelData datagram from a UDP client (RFC 8656 §12.6:
// the server relays the data to the peer bound to the channel) and reports
// whether it did; false hands the datagram to pion.
func (f *fastPath) forward(from netip.AddrPort, pkt []byte) bool {
	if len(pkt) < channelHeader {
		return false
	}
	number := binary.BigEndian.Uint16(pkt)
	length := int(binary.BigEndian.Uint16(pkt[2:]))
	if length > len(pkt)-channelHeader {
		return false // malformed: pion rejects it
	}
	rc := f.lookup(unmapAddrPort(from))
	if rc == nil {
		return false
	}
	peer, ok := rc.channelPeer(number)
	if !ok {
		return false
	}
	// A failed write (the own-port rule, a full socket buffer) is counted
	// or dropped, as pion would: UDP relaying is best effort.
	_, _ = rc.writeToPeer(pkt[channelHeader:channelHeader+length], peer)
	return true
}

// setClient enables the fast path for this relay's UDP client.
func (c *relayConn) setClient(addr netip.AddrPort, conn *net.UDPConn) {
	c.client.Store(&fastClient{addr: addr, key: unmapAddrPort(addr), conn: conn})
}

// addChannel mirrors a channel binding pion made.
func (c *relayConn) addChannel(number uint16, peer netip.AddrPort) {
	c.chanMu.Lock()
	defer c.chanMu.Unlock()
	var next []fastChannel
	if cur := c.channels.Load(); cur != nil {
		next = slices.DeleteFunc(slices.Clone(*cur), func(ch fastChannel) bool { return ch.number == number })
	}
	next = append(next, fastChannel{number: number, peer: unmapAddrPort(peer)})
	c.channels.Store(&next)
}

// removeChannel mirrors the end of a channel binding.
func (c *relayConn) removeChannel(number uint16) {
	c.chanMu.Lock()
	defer c.chanMu.Unlock()
	cur := c.channels.Load()
	if cur == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*cur), func(ch fastChannel) bool { return ch.number == number })
	c.channels.Store(&next)
}

// channelPeer returns the peer bound to number.
func (c *relayConn) channelPeer(number uint16) (netip.AddrPort, bool) {
	if chans := c.channels.Load(); chans != nil {
		for _, ch := range *chans {
			if ch.number == number {
				return ch.peer, true
			}
		}
	}
	return netip.AddrPort{}, false
}

// channelFor returns the channel bound to peer.
func (c *relayConn) channelFor(peer netip.AddrPort) (uint16, bool) {
	if chans := c.channels.Load(); chans != nil {
		peer = unmapAddrPort(peer)
		for _, ch := range *chans {
			if ch.peer == peer {
				return ch.number, true
			}
		}
	}
	return 0, false
}

// udpAddrPort converts a *net.UDPAddr to a netip.AddrPort.
func udpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua.Port < 0 || ua.Port > 0xffff {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(ua.Port)), true
}

// unmapAddrPort unmaps an IPv4-mapped IPv6 address, keeping the port: a
// dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
