// Package netpolicy classifies IP addresses by the IANA special-purpose
// registries and decides whether a relay may send to them.
//
// It exists so that Parley's TURN relay can never become a proxy into the
// operator's own network (the coturn CVE-2020-26262 class of bugs): a client
// that holds valid TURN credentials must not be able to reach loopback,
// private, link-local (cloud metadata) or otherwise special addresses through
// the relay unless the operator explicitly lists them.
package netpolicy

import (
	"fmt"
)

// Reason is the class of an address: Public, or the special-purpose range it
// falls in. The String form is stable; metrics and logs use it as a label.
type Reason int

// The classes an address can fall in. Every class except Public is refused
// by default.
const (
	// Public is a globally routable unicast address: relaying is allowed.
	Public Reason = iota
	// Invalid is the zero netip.Addr or an address of unknown length.
	Invalid
	// Unspecified is 0.0.0.0/8 ("this network", RFC 791; Linux delivers
	// 0.0.0.0 to the local host) and ::/128.
	Unspecified
	// Loopback is 127.0.0.0/8 and ::1 (RFC 1122, RFC 4291).
	Loopback
	// Private is RFC 1918 space: 10/8, 172.16/12, 192.168/16.
	Private
	// SharedAddress is 100.64.0.0/10, carrier-grade NAT space (RFC 6598).
	SharedAddress
	// LinkLocal is 169.254.0.0/16 (where cloud metadata services live,
	// RFC 3927) and fe80::/10 (RFC 4291).
	LinkLocal
	// IETFProtocol is 192.0.0.0/24, IETF protocol assignments (RFC 6890).
	IETFProtocol
	// Documentation is 192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737)
	// and 2001:db8::/32 (RFC 3849).
	Documentation
	// Benchmarking is 198.18.0.0/15 (RFC 2544).
	Benchmarking
	// Multicast is 224.0.0.0/4 (RFC 5771) and ff00::/8 (RFC 4291).
	Multicast
	// Reserved is 240.0.0.0/4, reserved for future use (RFC 1112).
	Reserved
	// Broadcast is 255.255.255.255/32, limited broadcast (RFC 919).
	Broadcast
	// UniqueLocal is fc00::/7, IPv6 unique local addresses (RFC 4193).
	UniqueLocal
	// NAT64 is 64:ff9b::/96 (RFC 6052), 64:ff9b:1::/48 (RFC 8215) and
	// the SIIT IPv4-translated ::ffff:0:0:0/96 (RFC 2765): a NAT64
	// gateway would turn them into IPv4 addresses of any class.
	NAT64
	// SixToFour is 2002::/16 (RFC 3056) and the 6to4 relay anycast
	// 192.88.99.0/24 (RFC 7526): they embed or reach IPv4 addresses.
	SixToFour
	// Discard is 100::/64, the discard-only prefix (RFC 6666).
	Discard
	// IPv4Compatible is ::/96, deprecated IPv4-compatible IPv6 addresses
	// (RFC 4291 §2.5.5.1).
	IPv4Compatible

	reasonCount // keep last: the number of reasons, for counters indexed by Reason
)

// NumReasons is the number of Reason values, so that callers can keep one
// counter per reason in an array instead of a map.
const NumReasons = int(reasonCount)

var reasonNames = [...]string{
	Public:         "public",
	Invalid:        "invalid",
	Unspecified:    "unspecified",
	Loopback:       "loopback",
	Private:        "private",
	SharedAddress:  "shared_address",
	LinkLocal:      "link_local",
	IETFProtocol:   "ietf_protocol",
	Documentation:  "documentation",
	Benchmarking:   "benchmarking",
	Multicast:      "multicast",
	Reserved:       "reserved",
	Broadcast:      "broadcast",
	UniqueLocal:    "unique_local",
	NAT64:          "nat64",
	SixToFour:      "6to4",
	Discard:        "discard",
	IPv4Compatible: "ipv4_compatible",
}

// String returns the stable, snake_case name of the reason, used as a log
// attribute and metric label.
func (r Reason) String() string {
	if r < 0 || int(r) >= len(reasonNames) {
		return fmt.Sprintf("Reason(%d)", int(r))
	}
	return reasonNames[r]
}

// ParseReason is the inverse of Reason.String, so that configuration and
// tests can name reasons.
func ParseReason(s string) (Reason, error) {
	for i, name := range reasonNames {
		if name == s {
			return Reason(i), nil
		}
	}
	return Invalid, fmt.Errorf("%w: %q", ErrUnknownReason, s)
}
