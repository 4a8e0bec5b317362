package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// Many rooms over the nodes: sizes of TestClusterManyRooms, small enough for
// make test on two cores with the race detector (18 pion participants).
const (
	manyRooms        = 6
	manyParticipants = 3
)

// TestClusterManyRooms: manyRooms rooms of manyParticipants pion
// participants over three nodes, the j-th participant of room i entering
// through node (i+j) mod 3, as a load balancer would spread them. Every
// room has exactly one owner (one node holds it, and every node's directory
// names that node), the rooms land on more than one node, and media flows
// in each.
func TestClusterManyRooms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	nodes := startCluster(t, 3, nil)
	log := peerLogs(t)
	rooms := make([][]*pionpeer.Peer, manyRooms)
	for j := range manyParticipants {
		for i := range rooms {
			n := nodes[(i+j)%len(nodes)]
			rooms[i] = append(rooms[i], clusterJoin(t, ctx, log, n, fmt.Sprintf("many-%d", i), fmt.Sprintf("R%dP%d", i, j)))
		}
	}
	perNode := map[string]int{}
	for i, peers := range rooms {
		room := fmt.Sprintf("many-%d", i)
		meshPoll(t, 60*time.Second, func() string {
			if m := missingMedia(peers); m != "" {
				return room + ": " + m
			}
			return ""
		})
		h, k := roomNode(nodes, room)
		if k != 1 {
			t.Fatalf("%s held by %d nodes, want 1", room, k)
		}
		perNode[h.name]++
		for _, n := range nodes {
			if owner, _, err := n.srv.Cluster().Locate(ctx, room); err != nil || owner != h.name {
				t.Errorf("%s's directory says %s is on %q (%v), but %s holds it", n.name, room, owner, err, h.name)
			}
		}
	}
	if len(perNode) < 2 {
		t.Errorf("every room landed on one node: %v", perNode)
	}
	t.Logf("rooms per node: %v", perNode)
}
