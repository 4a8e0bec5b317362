package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/config"
)

// TestNoClusterNoRoutePort: a node without any cluster setting starts no
// NATS (docs/cluster.md): no cluster node, and no TCP listener of this
// process beyond the HTTP one the test opened for it; it serves rooms as
// before.
func TestNoClusterNoRoutePort(t *testing.T) {
	before := tcpListeners(t)
	n := startNode(t, "alone", func(c *config.Config) { c.Cluster = config.Default().Cluster })
	if n.srv.Cluster() != nil {
		t.Fatal("a node without cluster settings has a cluster node")
	}
	if body, code := httpGet(n.url + "/readyz"); code != http.StatusOK || strings.Contains(body, "cluster") {
		t.Errorf("/readyz: %d %q, want ready without a cluster line", code, body)
	}
	var added []string
	for _, l := range tcpListeners(t) {
		if !slices.Contains(before, l) {
			added = append(added, l)
		}
	}
	if http := strings.TrimPrefix(n.url, "http://"); len(added) != 1 || added[0] != http {
		t.Errorf("the node added TCP listeners %v, want only its HTTP one %s", added, http)
	}
}

// tcpListeners lists the listening TCP sockets of this process as
// HOST:PORT, from /proc/net/tcp{,6} and the process's descriptors.
func tcpListeners(t *testing.T) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			out = append(out, procAddr(f[1]))
		}
	}
	return out
}

// procAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (IPv4; an IPv6 address is left in hex, which only needs to compare).
func procAddr(s string) string {
	host, port, _ := strings.Cut(s, ":")
	var p int
	fmt.Sscanf(port, "%X", &p)
	if len(host) != 8 {
		return fmt.Sprintf("[%s]:%d", host, p)
	}
	var b [4]int
	for i := range 4 {
		fmt.Sscanf(host[2*i:2*i+2], "%X", &b[3-i])
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", b[0], b[1], b[2], b[3], p)
}
