package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// TestBrowserClusterMesh: three Chromium pages enter one room through three
// different nodes of a cluster (docs/cluster.md); each decodes the two
// others' video in a mesh, and exactly one node holds the room; the admin
// page of another node shows the room with the node holding it.
func TestBrowserClusterMesh(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	b := browsertest.New(t)
	room := browserRoom("cluster3")
	names := []string{"A", "B", "C"}
	pages := map[string]*browsertest.Page{}
	for i, n := range names {
		url := fmt.Sprintf("http://%s/r/%s?quality=low&name=%s", nodes[i].front.addr, room, n)
		pages[n] = b.NewPage(t, url)
	}
	for _, n := range names {
		p := pages[n]
		waitOrDump(t, p, n, `parley.state === 'in-call'`, browserJoinTimeout)
		others := slices.DeleteFunc(slices.Clone(names), func(o string) bool { return o == n })
		expectRemoteVideo(t, p, n, others, nil, true)
	}
	holder, count := roomNode(nodes, room)
	if count != 1 {
		t.Fatalf("room held by %d nodes, want 1", count)
	}
	// The admin page of a node that does not hold the room shows it with
	// its node.
	other := nodes[0]
	if other == holder {
		other = nodes[1]
	}
	adm := b.NewPage(t, other.url+"/admin")
	adminSignIn(t, adm, testserver.AdminToken)
	card := fmt.Sprintf(`document.querySelector('.room[data-room=%q]')`, room)
	waitOrDump(t, adm, "admin on "+other.name, fmt.Sprintf(`%s && %s.querySelector('.room-node').textContent === 'on node %s'
	  && !%s.querySelector('.room-node').hidden`, card, card, holder.name, card), adminTimeout)
}
