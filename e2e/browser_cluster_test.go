package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// browserFailoverBudget is what docs/cluster.md promises an SFU room when
// its node dies: back with media within 15 s, counted from the kill.
const browserFailoverBudget = 15 * time.Second

// TestBrowserClusterMesh: three Chromium pages enter one room through three
// different nodes of a cluster (docs/cluster.md); each decodes the two
// others' video in a mesh, and exactly one node holds the room; the admin
// page of another node shows the room with the node holding it. Then the
// same pages go on:
//
//   - SFU mode: the admin API of a node that does not hold the room sets it
//     sfu-only (mesh_max is a node's start-up setting, and the mesh of three
//     above needs it at 3 or more: the policy is the way to switch this very
//     room); the room switches to its node's SFU and every page decodes both
//     remote tiles from it.
//   - Failover: the room's node dies without a word (front-door connections
//     cut, NATS stopped, SFU closed); within 15 s of the kill every page is
//     back in a call, joined afresh through a surviving node, with both
//     remote tiles advancing.
func TestBrowserClusterMesh(t *testing.T) {
	begin := time.Now()
	nodes := startCluster(t, 3, nil)
	b := browsertest.New(t)
	room := browserRoom("cluster3")
	names := []string{"A", "B", "C"}
	pages := map[string]*browsertest.Page{}
	for i, n := range names {
		url := fmt.Sprintf("http://%s/r/%s?quality=low&name=%s", nodes[i].front.addr, room, n)
		pages[n] = b.NewPage(t, url)
	}
	others := func(n string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(o string) bool { return o == n })
	}
	for _, n := range names {
		p := pages[n]
		waitOrDump(t, p, n, `parley.state === 'in-call'`, browserJoinTimeout)
		expectRemoteVideo(t, p, n, others(n), nil, true)
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
	if err := adm.Close(); err != nil {
		t.Fatal(err)
	}

	// --- SFU mode on the room's node ---------------------------------
	sfuStart := time.Now()
	t.Logf("the mesh part took %v", sfuStart.Sub(begin).Round(time.Millisecond))
	nodeAdmin(t, other).expect(http.StatusOK, http.MethodPut, "/api/admin/rooms/"+room+"/policy", map[string]string{"policy": "sfu-only"}, nil)
	for _, n := range names {
		waitOrDump(t, pages[n], n+" in SFU mode", fmt.Sprintf(jsSwitched, "sfu", "sfu", 2, "sfu"), switchTimeout)
	}
	inSFU := waitTilesAdvancing(t, pages, nil, others, time.Now().Add(browserJoinTimeout))
	for _, n := range names {
		expectSources(t, pages[n], n+" in SFU mode", sfuSources(others(n)))
	}
	t.Logf("every remote tile advancing from %s's SFU %v after the switch", holder.name, inSFU)
	t.Logf("every page decodes both remote tiles from %s's SFU %v after the policy was set", holder.name, time.Since(sfuStart).Round(time.Millisecond))

	// --- the room's node dies -----------------------------------------
	// The whole room re-joins a survivor at once, so several pages create
	// a group and all but one lose: a loser that committed in its own group
	// before it heard of the winner once stayed behind the real group for
	// good (e2ee.test.js "a whole room re-joins at once…").
	oldIDs := map[string]string{}
	for _, n := range names {
		oldIDs[n] = browsertest.MustEval[string](pages[n], `parley.id`)
	}
	killed := time.Now()
	live := holder.kill(nodes)
	waitTilesAdvancing(t, pages, oldIDs, others, killed.Add(browserFailoverBudget))
	back := time.Since(killed).Round(time.Millisecond)
	if h, k := roomNode(live, room); k != 1 {
		t.Fatalf("room held by %d surviving nodes after the failover, want 1", k)
	} else {
		t.Logf("room on %s after the failover; pages back in a call with every remote tile advancing %v after the kill", h.name, back)
	}
	t.Logf("SFU mode and failover took %v", time.Since(sfuStart).Round(time.Millisecond))
}

// jsCallState is a page's state, id and per remote tile its video's
// decoded-frame count, for waitTilesAdvancing.
const jsCallState = `(() => ({ state: parley.state, id: parley.id, frames: ` + jsRemoteFrames + ` }))()`

// callState is jsCallState's answer.
type callState struct {
	State  string         `json:"state"`
	ID     string         `json:"id"`
	Frames map[string]int `json:"frames"`
}

// waitTilesAdvancing polls every page until each is in a call (under a new
// id when oldIDs names its old one: a fresh join, its old node and resume
// token having died together) and every remote tile others(name) expects
// has shown new frames between two looks; it fails at deadline. It returns
// the time from the call to the last page done.
func waitTilesAdvancing(t *testing.T, pages map[string]*browsertest.Page, oldIDs map[string]string,
	others func(string) []string, deadline time.Time) time.Duration {
	t.Helper()
	start := time.Now()
	last := map[string]callState{}
	done := map[string]time.Duration{}
	why := map[string]string{}
	for len(done) < len(pages) {
		if time.Now().After(deadline) {
			var sb strings.Builder
			for _, n := range slices.Sorted(maps.Keys(pages)) {
				if _, ok := done[n]; !ok {
					fmt.Fprintf(&sb, "\n%s: %s; page state: %s", n, why[n], pageState(pages[n]))
				}
			}
			t.Fatalf("remote tiles not all advancing by the deadline, %v after the start (done: %v):%s", time.Since(start).Round(time.Millisecond), done, sb.String())
		}
		for _, n := range slices.Sorted(maps.Keys(pages)) {
			if _, ok := done[n]; ok {
				continue
			}
			s, err := browsertest.Eval[callState](pages[n], jsCallState)
			if err != nil {
				why[n] = err.Error()
				continue
			}
			prev := last[n]
			last[n] = s
			why[n] = advancing(s, prev, oldIDs[n], others(n))
			if why[n] == "" {
				done[n] = time.Since(start).Round(time.Millisecond)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	return slices.Max(slices.Collect(maps.Values(done)))
}

// advancing says why s (after prev, under the same id) is not yet a call
// (under an id other than oldID, when set) with every tile of want
// advancing, or "".
func advancing(s, prev callState, oldID string, want []string) string {
	switch {
	case s.State != "in-call":
		return "state " + s.State
	case oldID != "" && s.ID == oldID:
		return "still under its old id " + oldID
	case prev.ID != s.ID:
		return "just joined as " + s.ID
	}
	if got := slices.Sorted(maps.Keys(s.Frames)); !slices.Equal(got, want) {
		return fmt.Sprintf("remote tiles %q, want %q", got, want)
	}
	for _, name := range want {
		if s.Frames[name] <= 0 || s.Frames[name] <= prev.Frames[name] {
			return fmt.Sprintf("tile %s not advancing (%d → %d frames)", name, prev.Frames[name], s.Frames[name])
		}
	}
	return ""
}
