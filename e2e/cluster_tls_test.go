package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testcert"
)

// TestClusterRouteTLS: with cluster.tls_* set, the nodes' routes are mutual
// TLS (docs/cluster.md "Transport"): two nodes with certificates from the
// shared CA form the cluster and relay a participant; a node that speaks
// plain routes, and one whose certificate another CA signed, are refused,
// the refusals are logged, and no node counts them.
func TestClusterRouteTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cert, key, _ := testcert.Write(t, "127.0.0.1", "localhost")
	withTLS := func(c *config.Config) {
		// The test certificate is its own CA.
		c.Cluster.TLSCertFile, c.Cluster.TLSKeyFile, c.Cluster.TLSCAFile = cert, key, cert
	}
	nodes := startCluster(t, 2, func(_ int, c *config.Config) { withTLS(c) })

	room := "cluster-tls"
	a := clusterDial(t, ctx, nodes[0], room, "A")
	b := clusterDial(t, ctx, nodes[1], room, "B")
	if p := b.Welcome().Peers; len(p) != 1 || p[0].ID != a.ID() {
		t.Fatalf("B, through node1, is welcomed with %+v, want A (relayed to node0 over TLS routes)", p)
	}

	var peers []string
	for _, n := range nodes {
		peers = append(peers, "nats://"+n.routeAddr(t))
	}
	plain := startNode(t, "plain", func(c *config.Config) {
		c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
		c.Cluster.Peers = peers
		c.Cluster.Secret = "test-route-secret"
	})
	otherCert, otherKey, _ := testcert.Write(t, "127.0.0.1", "localhost")
	stranger := startNode(t, "stranger", func(c *config.Config) {
		c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
		c.Cluster.Peers = peers
		c.Cluster.Secret = "test-route-secret"
		c.Cluster.TLSCertFile, c.Cluster.TLSKeyFile, c.Cluster.TLSCAFile = otherCert, otherKey, otherCert
	})
	// The members log each refused handshake; the stranger logs that the
	// members' certificate is not from its CA (the plain node only sees
	// its connections close).
	clusterPoll(t, 20*time.Second, func() string {
		for _, n := range append([]*clusterNode{stranger}, nodes...) {
			if !refusedForTLS(n.logs.String()) {
				return n.name + " did not log why routes were refused"
			}
		}
		return ""
	})
	time.Sleep(3 * time.Second) // three load reports: a member would be heard by now
	for _, n := range nodes {
		if m := n.srv.Cluster().Members(); m != 2 {
			t.Errorf("%s hears %d nodes, want 2 (plain and stranger refused)", n.name, m)
		}
	}
	for _, n := range []*clusterNode{plain, stranger} {
		if m := n.srv.Cluster().Members(); m > 1 {
			t.Errorf("%s hears %d nodes", n.name, m)
		}
	}
}

// refusedForTLS says a node's log has a route error or warning about TLS.
func refusedForTLS(log string) bool {
	for _, line := range strings.Split(log, "\n") {
		if (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) &&
			strings.Contains(strings.ToLower(line), "tls") {
			return true
		}
	}
	return false
}
