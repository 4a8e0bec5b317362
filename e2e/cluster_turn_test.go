package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/turn"
)

// TestClusterTURNAcrossNodes: every node of a cluster mints TURN
// credentials with the same turn.secret (docs/cluster.md "Design"), so a
// credential from one node's welcome allocates a relay on another node's
// TURN server; a made-up one does not.
func TestClusterTURNAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := startCluster(t, 2, func(_ int, c *config.Config) {
		c.TURN.Listen = "127.0.0.1:0"
		c.TURN.PublicIP = "127.0.0.1"
		c.TURN.AllowPeers = []string{"127.0.0.0/8"}
		c.TURN.Secret = "shared-turn-secret-of-the-cluster"
	})
	a := clusterDial(t, ctx, nodes[0], "cluster-turn", "A")
	var user, pass string
	for _, s := range a.Welcome().ICEServers {
		if s.Username != "" {
			user, pass = s.Username, s.Credential
		}
	}
	if user == "" {
		t.Fatalf("node0's welcome has no TURN credential: %+v", a.Welcome().ICEServers)
	}
	other := nodes[1].srv.TURN().Addr().String()
	relay, err := turnAllocate(t, ctx, other, user, pass)
	if err != nil {
		t.Fatalf("allocating on node1's TURN (%s) with node0's credential: %v", other, err)
	}
	t.Logf("node0's credential allocated relay %s on node1's TURN", relay.LocalAddr())
	relay.Close()
	if _, err := turnAllocate(t, ctx, other, user, "not-the-credential"); err == nil {
		t.Error("node1's TURN allocated with a made-up credential")
	}
}

// turnAllocate allocates a relay on the TURN server at addr with pion's
// client.
func turnAllocate(t *testing.T, ctx context.Context, addr, user, pass string) (net.PacketConn, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		TURNServerAddr: addr, Username: user, Password: pass, Realm: turn.DefaultRealm,
		Conn: conn, RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.AllocateWithContext(actx)
}
