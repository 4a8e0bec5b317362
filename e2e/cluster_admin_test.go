package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
	"github.com/parleyhq/parley/signaling"
)

// The admin API of a cluster (docs/cluster.md "Operating"): any node lists
// every room with its node, and acts on any room, whichever node holds it.

// clusterRoom is adminRoom with the node that holds the room.
type clusterRoom struct {
	adminRoom
	Node string `json:"node"`
}

// nodeAdmin is an admin client of node n (direct, not through its front
// door: an operator's admin requests reach whichever node they reach).
func nodeAdmin(t *testing.T, n *clusterNode) *adminClient {
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &adminClient{t: t, base: n.url, token: testserver.AdminToken, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// clusterDial joins room as name through n's front door, signaling only.
func clusterDial(t *testing.T, ctx context.Context, n *clusterNode, room, name string) *sigclient.Client {
	t.Helper()
	c, err := sigclient.Dial(ctx, n.wsURL(), room, name)
	if err != nil {
		t.Fatalf("%s joins %s through %s: %v", name, room, n.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roomOn is node n's own view of room (not the cluster's), or false.
func roomOn(n *clusterNode, room string) (signaling.RoomInfo, bool) {
	for _, r := range n.hooks.Hub.Rooms() {
		if r.Name == room {
			return r, true
		}
	}
	return signaling.RoomInfo{}, false
}

// TestClusterAdminFromAnyNode: a room lives on node0, one of its
// participants relayed through node1; the admin API of node1 and node2
// (which hold nothing of it) reads the room with its node, sets its policy
// and its encryption, removes the relayed participant, sets every node's
// default policy and closes the room, each on node0.
func TestClusterAdminFromAnyNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := startCluster(t, 3, nil)
	room := "cluster-admin"
	a := clusterDial(t, ctx, nodes[0], room, "A")
	b := clusterDial(t, ctx, nodes[1], room, "B")
	if h, k := roomNode(nodes, room); k != 1 || h != nodes[0] {
		t.Fatalf("room held by %d nodes, want node0 only", k)
	}
	adm1, adm2 := nodeAdmin(t, nodes[1]), nodeAdmin(t, nodes[2])

	var list struct {
		Rooms []clusterRoom `json:"rooms"`
	}
	adm2.expect(http.StatusOK, http.MethodGet, "/api/admin/rooms", nil, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].Node != "node0" || len(list.Rooms[0].Participants) != 2 {
		t.Fatalf("node2 lists %+v, want %s on node0 with 2 participants", list.Rooms, room)
	}
	var one clusterRoom
	adm1.expect(http.StatusOK, http.MethodGet, "/api/admin/rooms/"+room, nil, &one)
	if one.Node != "node0" || one.Name != room {
		t.Fatalf("node1 reads %+v, want %s on node0", one, room)
	}

	adm1.expect(http.StatusOK, http.MethodPut, "/api/admin/rooms/"+room+"/policy", map[string]string{"policy": "sfu-only"}, &one)
	if r, _ := roomOn(nodes[0], room); r.Policy != signaling.PolicySFUOnly || !r.PolicySet {
		t.Errorf("after node1 set sfu-only, node0 holds policy %v (set %v)", r.Policy, r.PolicySet)
	}
	adm2.expect(http.StatusOK, http.MethodPut, "/api/admin/rooms/"+room+"/e2ee", map[string]bool{"e2ee": false}, &one)
	if r, _ := roomOn(nodes[0], room); r.E2EE || !r.E2EESet {
		t.Errorf("after node2 allowed unencrypted, node0's room has e2ee %v (set %v)", r.E2EE, r.E2EESet)
	}

	adm2.expect(http.StatusNoContent, http.MethodDelete, "/api/admin/participants/"+b.ID(), nil, nil)
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("B, relayed through node1, still connected 10 s after node2 removed it")
	}
	clusterPoll(t, 5*time.Second, func() string {
		if r, _ := roomOn(nodes[0], room); len(r.Peers) != 1 {
			return fmt.Sprintf("node0's room has %d participants after the kick, want 1", len(r.Peers))
		}
		return ""
	})
	var e adminError
	if code := adm1.do(http.MethodDelete, "/api/admin/participants/nobody0000", nil, &e); code != http.StatusNotFound || e.Error != "no-participant" {
		t.Errorf("kicking nobody: HTTP %d %+v, want 404 no-participant", code, e)
	}

	adm1.expect(http.StatusOK, http.MethodPut, "/api/admin/policy", map[string]string{"policy": "mesh-only"}, nil)
	for _, n := range nodes {
		if p := n.hooks.Hub.DefaultPolicy(); p != signaling.PolicyMeshOnly {
			t.Errorf("%s's default policy is %v after node1 set mesh-only everywhere", n.name, p)
		}
	}

	adm2.expect(http.StatusNoContent, http.MethodDelete, "/api/admin/rooms/"+room, nil, nil)
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("A still connected 10 s after node2 closed its room")
	}
	clusterPoll(t, 5*time.Second, func() string {
		if _, ok := roomOn(nodes[0], room); ok {
			return "node0 still holds the closed room"
		}
		return ""
	})
	if code := adm1.do(http.MethodDelete, "/api/admin/rooms/no-such-room", nil, &e); code != http.StatusNotFound || e.Error != "no-room" {
		t.Errorf("closing a room nobody holds: HTTP %d %+v, want 404 no-room", code, e)
	}
}

// TestClusterFirstNodeAlone: the first node of a new cluster
// (cluster.listen, no peers yet) starts, is ready and serves a room alone.
// A second node naming it joins; once the directory has the first node's
// room, a participant entering through the second node meets the one
// already there.
func TestClusterFirstNodeAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	port := freeTCPPort(t)
	first := startNode(t, "first", func(c *config.Config) {
		c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", port)
		c.Cluster.Secret = "test-route-secret"
	})
	addFrontDoors(t, []*clusterNode{first})
	waitClusterReady(t, []*clusterNode{first}, 1)
	room := "first-alone"
	a := clusterDial(t, ctx, first, room, "A")

	second := startNode(t, "second", func(c *config.Config) {
		c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
		c.Cluster.Peers = []string{fmt.Sprintf("nats://127.0.0.1:%d", port)}
		c.Cluster.Secret = "test-route-secret"
	})
	addFrontDoors(t, []*clusterNode{second})
	waitClusterReady(t, []*clusterNode{first, second}, 2)
	// The first node claims its room as soon as its directory answers;
	// reading the room through the second node's admin API looks it up
	// in the directory without placing it.
	adm := nodeAdmin(t, second)
	clusterPoll(t, 20*time.Second, func() string {
		var r clusterRoom
		if code := adm.do(http.MethodGet, "/api/admin/rooms/"+room, nil, &r); code != http.StatusOK || r.Node != "first" {
			return fmt.Sprintf("the second node reads the room: HTTP %d, node %q", code, r.Node)
		}
		return ""
	})
	b := clusterDial(t, ctx, second, room, "B")
	if p := b.Welcome().Peers; len(p) != 1 || p[0].ID != a.ID() {
		t.Fatalf("B, through the second node, is welcomed with %+v, want A", p)
	}
	if h, k := roomNode([]*clusterNode{first, second}, room); k != 1 || h != first {
		t.Fatalf("room held by %d nodes, want the first only", k)
	}
}
