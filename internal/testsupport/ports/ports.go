// Package ports hands tests loopback TCP ports to give servers that other
// servers dial before they listen (cluster routes).
package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Free returns a loopback port free a moment ago, below the kernel's
// ephemeral range. A cluster node dials its peers' route ports before
// they listen; dialling 127.0.0.1:P while nothing listens there can make
// the kernel pick P itself as the source port, and the socket connects to
// itself (TCP simultaneous open). It then holds P, and the peer that
// should listen there fails with "address already in use" (seen in CI:
// TestBrowserClusterMesh). A port outside the ephemeral range is never
// picked as a source port.
func Free(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := minPort + rand.IntN(low-minPort)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		ln.Close()
		return port
	}
	t.Fatalf("no free loopback port in [%d, %d)", minPort, low)
	return 0
}

// minPort: the ports Free draws from start here, above the well-known
// and registered services a test machine may run.
const minPort = 20000

// ephemeralLow is the first port of the kernel's ephemeral range (Linux:
// /proc/sys/net/ipv4/ip_local_port_range), 32768 when it cannot be read
// or leaves too little room below it.
func ephemeralLow() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return fallback
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= minPort+1000 {
		return fallback
	}
	return n
}
