package netpolicy

import (
	"fmt"
	"net"
	"net/netip"
)

// Policy decides whether a relay may send to an address: public addresses
// yes, special-purpose ones only when an operator-supplied allow list covers
// them (a LAN-only deployment lists its LAN; tests list loopback).
//
// A Policy is immutable after New and safe for concurrent use.
type Policy struct {
	allow []netip.Prefix // unmapped and masked
}

// New returns a Policy whose exceptions are allow. IPv4-mapped IPv6 prefixes
// (::ffff:10.0.0.0/104) are unmapped so that they match the IPv4 addresses
// Check compares against.
func New(allow []netip.Prefix) (*Policy, error) {
	p := &Policy{allow: make([]netip.Prefix, 0, len(allow))}
	for _, prefix := range allow {
		if !prefix.IsValid() {
			return nil, fmt.Errorf("%w: %v", ErrInvalidPrefix, prefix)
		}
		addr, bits := prefix.Addr(), prefix.Bits()
		if addr.Is4In6() {
			if bits < 96 {
				return nil, fmt.Errorf("%w: %v spans more than the IPv4-mapped range", ErrInvalidPrefix, prefix)
			}
			addr, bits = addr.Unmap(), bits-96
		}
		p.allow = append(p.allow, netip.PrefixFrom(addr.WithZone(""), bits).Masked())
	}
	return p, nil
}

// Check classifies addr and reports whether relaying to it is allowed: it is
// when addr is Public or inside an allow-list prefix. Invalid addresses are
// never allowed. The comparison is made on the unmapped address.
func (p *Policy) Check(addr netip.Addr) (reason Reason, ok bool) {
	reason = Classify(addr)
	switch reason {
	case Public:
		return reason, true
	case Invalid:
		return reason, false
	}
	addr = addr.Unmap().WithZone("")
	for _, prefix := range p.allow {
		if prefix.Contains(addr) {
			return reason, true
		}
	}
	return reason, false
}

// CheckIP is Check for a net.IP, the type pion/turn hands to its permission
// hook; a 16-byte IPv4-mapped net.IP is unmapped like any other.
func (p *Policy) CheckIP(ip net.IP) (reason Reason, ok bool) {
	addr, valid := netip.AddrFromSlice(ip)
	if !valid {
		return Invalid, false
	}
	return p.Check(addr)
}
