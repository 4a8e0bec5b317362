package netpolicy

import (
	"net/netip"
)

// span is one special-purpose range and the reason it is refused.
type span struct {
	prefix netip.Prefix
	reason Reason
}

// v4 builds an IPv4 prefix without parsing, so that the tables below cannot
// fail at start-up.
func v4(a, b, c, d byte, bits int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, d}), bits)
}

// v6 builds an IPv6 prefix from its leading 16-bit groups; the rest are zero.
func v6(bits int, groups ...uint16) netip.Prefix {
	var b [16]byte
	for i, g := range groups {
		b[2*i] = byte(g >> 8)
		b[2*i+1] = byte(g)
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), bits)
}

// specialV4 lists the IPv4 special-purpose ranges (IANA IPv4 Special-Purpose
// Address Registry, RFC 6890), most specific first where they nest:
// 255.255.255.255 sits inside 240.0.0.0/4.
var specialV4 = [...]span{
	{v4(0, 0, 0, 0, 8), Unspecified},         // RFC 791 "this network"; Linux routes 0.0.0.0 to the host itself
	{v4(127, 0, 0, 0, 8), Loopback},          // RFC 1122
	{v4(10, 0, 0, 0, 8), Private},            // RFC 1918
	{v4(172, 16, 0, 0, 12), Private},         // RFC 1918
	{v4(192, 168, 0, 0, 16), Private},        // RFC 1918
	{v4(100, 64, 0, 0, 10), SharedAddress},   // RFC 6598 carrier-grade NAT
	{v4(169, 254, 0, 0, 16), LinkLocal},      // RFC 3927; 169.254.169.254 is the cloud metadata service
	{v4(192, 0, 0, 0, 24), IETFProtocol},     // RFC 6890
	{v4(192, 0, 2, 0, 24), Documentation},    // RFC 5737 TEST-NET-1
	{v4(198, 51, 100, 0, 24), Documentation}, // RFC 5737 TEST-NET-2
	{v4(203, 0, 113, 0, 24), Documentation},  // RFC 5737 TEST-NET-3
	{v4(198, 18, 0, 0, 15), Benchmarking},    // RFC 2544
	{v4(192, 88, 99, 0, 24), SixToFour},      // RFC 7526 deprecated 6to4 relay anycast
	{v4(224, 0, 0, 0, 4), Multicast},         // RFC 5771
	{v4(255, 255, 255, 255, 32), Broadcast},  // RFC 919 limited broadcast, before 240/4 which contains it
	{v4(240, 0, 0, 0, 4), Reserved},          // RFC 1112
}

// specialV6 lists the IPv6 special-purpose ranges (IANA IPv6 Special-Purpose
// Address Registry, RFC 6890). IPv4-mapped addresses (::ffff:0:0/96) never
// reach this table: Classify unmaps them first and classifies the IPv4
// address inside, which is the whole point (CVE-2020-26262).
var specialV6 = [...]span{
	{v6(128), Unspecified},                      // RFC 4291 ::
	{v6(128, 0, 0, 0, 0, 0, 0, 0, 1), Loopback}, // RFC 4291 ::1
	{v6(96), IPv4Compatible},                    // RFC 4291 §2.5.5.1 deprecated ::a.b.c.d, after :: and ::1
	{v6(96, 0, 0, 0, 0, 0xffff, 0), NAT64},      // RFC 2765 SIIT IPv4-translated ::ffff:0:a.b.c.d
	{v6(96, 0x64, 0xff9b), NAT64},               // RFC 6052 well-known NAT64 prefix
	{v6(48, 0x64, 0xff9b, 1), NAT64},            // RFC 8215 local-use NAT64 prefix
	{v6(64, 0x100), Discard},                    // RFC 6666 discard-only
	{v6(32, 0x2001, 0xdb8), Documentation},      // RFC 3849
	{v6(16, 0x2002), SixToFour},                 // RFC 3056 6to4 embeds an IPv4 address
	{v6(7, 0xfc00), UniqueLocal},                // RFC 4193
	{v6(10, 0xfe80), LinkLocal},                 // RFC 4291
	{v6(10, 0xfec0), UniqueLocal},               // RFC 3879 deprecated site-local, still local to the site
	{v6(8, 0xff00), Multicast},                  // RFC 4291
}

// Classify returns the class of addr. It unmaps IPv4-mapped IPv6 addresses
// first, so ::ffff:127.0.0.1 is Loopback (the coturn CVE-2020-26262 slip was
// to compare the mapped form), and ignores any IPv6 zone.
func Classify(addr netip.Addr) Reason {
	if !addr.IsValid() {
		return Invalid
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		for _, s := range specialV4 {
			if s.prefix.Contains(addr) {
				return s.reason
			}
		}
		return Public
	}
	for _, s := range specialV6 {
		if s.prefix.Contains(addr) {
			return s.reason
		}
	}
	return Public
}
