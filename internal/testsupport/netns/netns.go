// Package netns gives a test a network of its own to shape: a fresh
// network namespace joined to the test's by a veth pair, with an address on
// each end and, on demand, a tc qdisc on the test's end that limits what
// flows into the namespace (its downlink). A browser started inside with
// Command (or browsertest.WithNetNS) then reaches a server in the test's
// namespace only through that link.
//
//	n, err := netns.New()        // or netns.Skip(t) first
//	defer n.Close()
//	n.Shape(netns.TBF{Rate: 1_500_000, Burst: 32 * 1024, Latency: 50 * time.Millisecond})
//	server listens on n.HostIP; the browser runs under n.Wrap(...)
//
// It needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN for setns), and
// iproute2's `ip` and `tc` and util-linux's `nsenter` on PATH; Available
// says what is missing. Nothing is global: the namespace is held by a child
// process (no /run/netns name), the veth names are random, and Close kills
// the holder, which destroys the namespace and with it both veth ends. So
// it works inside `unshare --net` (as e2e tests run), where the pair joins
// the unshared namespace to the new one.
package netns

import (
	"errors"
	"time"
)

// ErrUnavailable is wrapped by Available's answer when the machine cannot
// make namespaces.
var ErrUnavailable = errors.New("netns: unavailable")

// TBF is a token-bucket filter (tc-tbf(8)) on the link into the namespace.
type TBF struct {
	// Rate is the long-term rate in bit/s.
	Rate int
	// Burst is the bucket's depth in bytes: what may pass at line rate
	// after a quiet spell. It must hold at least one MTU-sized packet.
	Burst int
	// Latency is the longest a packet may wait in the queue before it is
	// dropped.
	Latency time.Duration
}
