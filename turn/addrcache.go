package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Sizes of the address caches: a listening socket serves many clients, a
// relay socket a handful of peers (ICE checks several candidates, then one
// pair carries the media).
const (
	listenAddrCacheSize = 256
	relayAddrCacheSize  = 8
)

// addrCache maps a datagram's source to a *net.UDPAddr without allocating
// one per datagram, as net.UDPConn.ReadFrom does (pion/turn needs a
// net.Addr). It is direct-mapped: a collision just allocates a new address.
// The addresses it hands out are never modified, so callers may keep them
// (pion/turn stores the client's in the allocation's 5-tuple).
//
// It is not safe for concurrent use; each socket has one reader.
type addrCache struct {
	entries []addrCacheEntry // length is a power of two
}

type addrCacheEntry struct {
	key  netip.AddrPort
	addr *net.UDPAddr
}

func newAddrCache(size int) addrCache {
	return addrCache{entries: make([]addrCacheEntry, size)}
}

// get returns the cached address for ap, creating it on a miss.
func (c *addrCache) get(ap netip.AddrPort) *net.UDPAddr {
	ip := ap.Addr().As16()
	h := (binary.BigEndian.Uint32(ip[12:]) ^ binary.BigEndian.Uint32(ip[8:12])<<7 ^ uint32(ap.Port())<<16) * 0x9E3779B1
	e := &c.entries[int(h>>16)&(len(c.entries)-1)]
	if e.addr == nil || e.key != ap {
		e.key = ap
		e.addr = net.UDPAddrFromAddrPort(ap)
	}
	return e.addr
}

// listenConn is a listening UDP socket as pion/turn sees it. ReadFrom
// relays ChannelData of known channels itself (the client → peer half of
// the fast path, fastpath.go) and hands everything else to pion, with the
// source address from an addrCache so that it does not allocate one per
// datagram. Writes go straight to the socket.
type listenConn struct {
	*net.UDPConn
	fast  *fastPath
	cache addrCache // only ReadFrom (pion's one read loop per socket) touches it
}

func newListenConn(c *net.UDPConn, fast *fastPath) *listenConn {
	return &listenConn{UDPConn: c, fast: fast, cache: newAddrCache(listenAddrCacheSize)}
}

// ReadFrom implements net.PacketConn.
func (c *listenConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		// RFC 8656 §12: channel numbers are 0x4000-0x4FFF, so a
		// ChannelData message starts with the bits 01; a STUN message
		// starts with 00 (RFC 8489 §5).
		if n >= channelHeader && p[0]&0xC0 == 0x40 && c.fast.forward(from, p[:n]) {
			continue
		}
		return n, c.cache.get(from), nil
	}
}
