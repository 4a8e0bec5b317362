package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleyhq/parley/internal/client/sigclient"
)

// evictWithin bounds the old owner's eviction after it is cut off
// (docs/cluster.md "Split brain", rule 2): its last renewal is at most
// renewEvery (2 s) old, it evicts once a whole lease (8 s) has passed
// without one, looking every 2 s, and a renewal attempt may take 2 s to
// fail; a few seconds more for a loaded machine.
const evictWithin = 20 * time.Second

// maxTwoCopies bounds how long the cut-off owner's copy outlives the new
// owner's first welcome: the new claim needs the old lease to have expired,
// and the old owner evicts at most one renewal interval (2 s) after that
// (docs/cluster.md "Split brain"); one second more for a loaded machine.
const maxTwoCopies = 3 * time.Second

// TestClusterSplitBrainEviction: a room's owner loses the directory for
// longer than a lease (its embedded NATS stops: the node is alone on its
// side of a partition) while its participant stays connected to it. A
// participant entering through another node waits for the lease to expire
// and the room is placed there; the old owner, which could not renew for a
// whole lease, evicts its copy: its participant is told to reconnect
// (server-shutdown with reconnect, close 1012), and only the new owner
// holds the room.
func TestClusterSplitBrainEviction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := startCluster(t, 3, nil)
	room := "split-brain"
	a := clusterDial(t, ctx, nodes[0], room, "A")
	if h, k := roomNode(nodes, room); k != 1 || h != nodes[0] {
		t.Fatalf("room held by %d nodes, want node0 only", k)
	}

	cut := time.Now()
	nodes[0].hooks.IsolateCluster()
	told := make(chan sigclient.Event, 1)
	go func() {
		for ev := range a.Events() {
			if ev.Type == sigclient.TypeServerShutdown {
				told <- ev
				return
			}
		}
	}()
	b := clusterDial(t, ctx, nodes[1], room, "B")
	welcomed := time.Now()
	t.Logf("B welcomed through node1 %v after node0 was cut off", time.Since(cut).Round(time.Millisecond))
	if p := b.Welcome().Peers; len(p) != 0 {
		t.Errorf("B is welcomed with %+v, want nobody: A is on node0's copy", p)
	}
	if h, _ := roomNode(nodes[1:], room); h != nodes[1] {
		t.Fatalf("after the lease expired the room is not on node1")
	}

	select {
	case ev := <-told:
		if !ev.Reconnect {
			t.Errorf("A was told %+v, want reconnect: true", ev)
		}
		t.Logf("node0 evicted its copy %v after it was cut off: %q", time.Since(cut).Round(time.Millisecond), ev.Message)
		if two := time.Since(welcomed); two > maxTwoCopies {
			t.Errorf("two copies of the room for %v (B welcomed on node1 until node0 evicted), want at most %v", two.Round(time.Millisecond), maxTwoCopies)
		}
	case <-time.After(time.Until(cut.Add(evictWithin))):
		t.Fatalf("A not told to reconnect %v after node0 was cut off", evictWithin)
	}
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("A's connection to node0 still open 5 s after the eviction notice")
	}
	if code := a.CloseCode(); code != websocket.CloseServiceRestart {
		t.Errorf("A's connection closed with %d, want %d (service restart)", code, websocket.CloseServiceRestart)
	}
	if h, k := roomNode(nodes, room); k != 1 || h != nodes[1] {
		t.Errorf("room held by %d nodes after the eviction, want node1 only", k)
	}
	if !strings.Contains(nodes[0].logs.String(), "lease lost; evicting room") {
		t.Error("node0 did not log why it evicted the room")
	}
}
