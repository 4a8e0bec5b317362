package e2e

// A hostile server against MLS membership (docs/e2ee.md "Threat model"):
// a ghost member, a stripped or swapped invite proof, a replay after a
// leave (also to a committer who joined after it), a split room, and a
// join while a commit is held in flight. The `mls` messages are
// docs/protocol.md's.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/hostile"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// mlsKind is an `mls` message's kind, or "".
func mlsKind(m hostile.Message) string {
	var k string
	if m.Type() == "mls" {
		m.Get("kind", &k)
	}
	return k
}

// sentTo lists the messages browsers sent the server addressed to id
// (`to`), and the commits whose Welcome names id. WebRTC's own `signal`s
// (SDP, ICE) are left out: they carry no key, and what flows over the
// connection they set up is encrypted under keys only members have.
func sentTo(p *hostile.Proxy, id string) []string {
	var out []string
	for _, r := range p.Records(func(r hostile.Record) bool { return r.Dir == hostile.ToServer }) {
		m := r.Message()
		var to string
		if m.Get("to", &to) && to == id && r.Type != "signal" {
			out = append(out, fmt.Sprintf("%s from conn %d", r.Type, r.Conn))
		}
		var w struct {
			To []string `json:"to"`
		}
		if mlsKind(m) == "commit" && m.Get("welcome", &w) && slices.Contains(w.To, id) {
			out = append(out, fmt.Sprintf("mls commit welcoming it from conn %d", r.Conn))
		}
	}
	return out
}

// jsMLS is the page's MLS view (parley.e2ee(): web/js/call.js, e2ee.js info()).
const jsMLS = `JSON.stringify((({member, epoch, roomCode, members}) => ({member, epoch, roomCode, ids: (members ?? []).map((m) => m.id)}))(parley.e2ee() ?? {}))`

type mlsView struct {
	Member   bool     `json:"member"`
	Epoch    int      `json:"epoch"`
	RoomCode string   `json:"roomCode"`
	IDs      []string `json:"ids"`
}

func mlsOf(t *testing.T, p *browsertest.Page) mlsView {
	t.Helper()
	var v mlsView
	s := browsertest.MustEval[string](p, jsMLS)
	if err := jsonUnmarshal(s, &v); err != nil {
		t.Fatalf("parley.e2ee(): %v: %s", err, s)
	}
	return v
}

// TestBrowserHostileGhost: the server invents a member: it
// replays Bob's KeyPackage (and proof) under a ghost's id, and
// strips Carol's invite proof: nobody sends anything to the ghost or
// welcomes it or Carol into the group, the others show Carol as not
// admitted, Carol never becomes a member nor decrypts a frame, and Alice
// and Bob still share one room code.
func TestBrowserHostileGhost(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t)
	room, secret := browserRoom("ghost"), roomSecret()
	ghost := hostile.GhostID()

	nameOf := func(id string) string {
		for _, c := range p.Conns() {
			if c.ID() == id {
				return c.Name()
			}
		}
		return ""
	}
	// Carol's KeyPackage reaches the others without its proof.
	p.ToClient(func(_ *hostile.Conn, m hostile.Message) []hostile.Message {
		var from string
		if mlsKind(m) == "kp" && m.Get("from", &from) && nameOf(from) == "Carol" {
			m.Delete("proof")
		}
		return []hostile.Message{m}
	})
	// In order: Alice makes the group, so it is Bob who sends a KeyPackage
	// (both at once, either may be first).
	pages := openGroup(t, b, p, room, secret, "Alice", "Bob")
	aliceID, bobID := pageID(t, pages["Alice"]), pageID(t, pages["Bob"])

	// The ghost: Bob's KeyPackage and proof, replayed under its id.
	kps := p.Records(func(r hostile.Record) bool {
		var from string
		m := r.Message()
		return r.Dir == hostile.ToClient && mlsKind(m) == "kp" && m.Get("from", &from) && from == bobID
	})
	if len(kps) == 0 {
		t.Fatal("no KeyPackage of Bob's was recorded")
	}
	for _, c := range connsOf(p, "Alice") {
		_ = c.ToClient(hostile.GhostJoined(ghost, "Bob"))
		_ = c.ToClient(kps[0].Message().Set("from", ghost))
	}

	pages["Carol"] = b.NewPage(t, hostileURL(p, room, "Carol", secret))
	waitOrDump(t, pages["Carol"], "Carol in call", `parley.state === 'in-call' && !!parley.id`, e2eeTimeout)
	carolID := pageID(t, pages["Carol"])
	for _, n := range []string{"Alice", "Bob"} {
		waitOrDump(t, pages[n], n+" shows Carol not admitted", `(() => {
		  const b = document.querySelector('#banner');
		  return !b.hidden && /not admitted/.test(b.textContent) && /Carol/.test(b.textContent);
		})()`, e2eeTimeout)
	}
	time.Sleep(3 * time.Second) // any commit still under way
	for _, id := range []string{ghost, carolID} {
		if got := sentTo(p, id); len(got) > 0 {
			t.Errorf("%s (%s) was sent %v", id, nameOf(id), got)
		}
	}
	if v := mlsOf(t, pages["Carol"]); v.Member {
		t.Errorf("Carol, without a valid proof, became a member: %+v", v)
	}
	// What reaches Carol's page (media from Alice and Bob) never decrypts.
	dec := browsertest.MustEval[map[string]float64](pages["Carol"], jsE2EEDecrypted)
	if dec[aliceID] > 0 || dec[bobID] > 0 {
		t.Errorf("Carol, not admitted, decrypted frames: %v", dec)
	}
	a, bb := mlsOf(t, pages["Alice"]), mlsOf(t, pages["Bob"])
	for _, v := range []mlsView{a, bb} {
		if slices.Contains(v.IDs, ghost) || slices.Contains(v.IDs, carolID) || !slices.Contains(v.IDs, aliceID) || !slices.Contains(v.IDs, bobID) {
			t.Errorf("group members %v, want Alice and Bob only", v.IDs)
		}
	}
	if a.RoomCode == "" || a.RoomCode != bb.RoomCode {
		t.Errorf("room codes %q and %q, want one shared code", a.RoomCode, bb.RoomCode)
	}
}

// TestBrowserHostileReplayAfterLeave: after Bob leaves, the server sends
// Alice again every MLS message and Bob's peer-joined from before the
// leave. Alice stays in the new epoch, Bob stays out of her group, and she
// goes on decrypting Carol under the same room code as Carol's.
func TestBrowserHostileReplayAfterLeave(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t)
	room, secret := browserRoom("replay"), roomSecret()
	pages := openGroup(t, b, p, room, secret, "Alice", "Bob", "Carol")
	bobID, carolID := pageID(t, pages["Bob"]), pageID(t, pages["Carol"])
	aliceConn := connsOf(p, "Alice")[0]
	before := p.Records(func(r hostile.Record) bool {
		t := r.Message().Type()
		return r.Dir == hostile.ToClient && r.Conn == aliceConn.N && (t == "mls" || t == "peer-joined")
	})
	_ = pages["Bob"].Close()
	waitOrDump(t, pages["Alice"], "Alice's group without Bob", `parley.e2ee()?.members?.length === 2`, e2eeTimeout)
	after := mlsOf(t, pages["Alice"])

	// replay sends Alice again the recorded messages keep accepts and
	// checks that nothing changed: same epoch, no Bob, the same room code
	// as Carol's, and Carol's frames still decrypt.
	replay := func(t *testing.T, keep func(hostile.Message) bool) {
		n := 0
		for _, r := range before {
			if keep(r.Message()) {
				_ = aliceConn.Replay(r)
				n++
			}
		}
		if n == 0 {
			t.Fatal("nothing recorded to replay")
		}
		time.Sleep(3 * time.Second)
		now := mlsOf(t, pages["Alice"])
		if now.Epoch != after.Epoch || slices.Contains(now.IDs, bobID) {
			t.Fatalf("after replaying %d messages Alice's group is %+v, was %+v", n, now, after)
		}
		if c := mlsOf(t, pages["Carol"]); c.RoomCode != now.RoomCode {
			t.Errorf("room codes differ after the replay: Alice %q, Carol %q", now.RoomCode, c.RoomCode)
		}
		waitDecryptRises(t, pages["Alice"], "Alice", browsertest.MustEval[map[string]float64](pages["Alice"], jsE2EEDecrypted), carolID)
	}
	// Commits and Welcomes of the epochs before the leave.
	t.Run("handshakes", func(t *testing.T) {
		replay(t, func(m hostile.Message) bool { k := mlsKind(m); return k == "commit" || k == "welcome" })
	})
	// Bob's peer-joined and KeyPackage (with its valid proof): a
	// KeyPackage is for one use (RFC 9420 §16.8), and Bob is gone.
	t.Run("keypackage", func(t *testing.T) {
		replay(t, func(m hostile.Message) bool {
			var from string
			var p struct {
				ID string `json:"id"`
			}
			return (mlsKind(m) == "kp" && m.Get("from", &from) && from == bobID) ||
				(m.Type() == "peer-joined" && m.Get("peer", &p) && p.ID == bobID)
		})
	})
}

// TestBrowserHostileLateCommitterReplay: a replayed KeyPackage offered to
// a committer who joined after it was used. Alice, Bob and Carol join;
// Bob leaves, then Alice: Carol is alone. Dave joins and takes leaf 0, so
// he commits from now on, and he never saw Bob. The server replays Bob's
// peer-joined and KeyPackage (valid proof, still within its lifetime) to
// Dave. The group's spent list (a GroupContext extension Dave got in his
// Welcome, docs/e2ee.md "Replayed joins") names that KeyPackage: Dave adds
// nobody, nothing is welcomed to Bob, and Dave sees a security warning.
func TestBrowserHostileLateCommitterReplay(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t)
	room, secret := browserRoom("latereplay"), roomSecret()
	pages := openGroup(t, b, p, room, secret, "Alice", "Bob", "Carol")
	bobID := pageID(t, pages["Bob"])
	aliceConn := connsOf(p, "Alice")[0] // Alice saw Bob arrive
	bobs := p.Records(func(r hostile.Record) bool {
		m := r.Message()
		var from string
		var peer struct {
			ID string `json:"id"`
		}
		return r.Dir == hostile.ToClient && r.Conn == aliceConn.N &&
			((mlsKind(m) == "kp" && m.Get("from", &from) && from == bobID) ||
				(m.Type() == "peer-joined" && m.Get("peer", &peer) && peer.ID == bobID))
	})
	if len(bobs) < 2 {
		t.Fatalf("recorded %d of Bob's peer-joined and KeyPackage, want both", len(bobs))
	}
	_ = pages["Bob"].Close()
	waitOrDump(t, pages["Carol"], "Carol's group without Bob", `parley.e2ee()?.members?.length === 2`, e2eeTimeout)
	_ = pages["Alice"].Close()
	waitOrDump(t, pages["Carol"], "Carol alone in the group", `parley.e2ee()?.members?.length === 1`, e2eeTimeout)
	pages["Dave"] = openHostile(t, b, p, room, secret, "Dave")["Dave"]
	waitOrDump(t, pages["Dave"], "Dave in the group at leaf 0 (the committer)",
		`parley.e2ee()?.members?.length === 2 && parley.e2ee().leaf === 0`, e2eeTimeout)
	before := mlsOf(t, pages["Dave"])
	welcomes := func() int { // commits whose Welcome names Bob (his own join's is one)
		return len(slices.DeleteFunc(sentTo(p, bobID), func(s string) bool { return !strings.Contains(s, "welcoming") }))
	}
	welcomedBefore := welcomes()
	daveConn := connsOf(p, "Dave")[0]
	for _, r := range bobs {
		if err := daveConn.Replay(r); err != nil {
			t.Fatalf("replay to Dave: %v", err)
		}
	}
	waitOrDump(t, pages["Dave"], "Dave's security warning", `document.getElementById('banner')?.textContent.includes('replayed')`, e2eeTimeout)
	time.Sleep(2 * time.Second) // a commit adding Bob would have left by now
	now := mlsOf(t, pages["Dave"])
	if now.Epoch != before.Epoch || slices.Contains(now.IDs, bobID) {
		t.Fatalf("after the replay Dave's group is %+v, was %+v", now, before)
	}
	if c := mlsOf(t, pages["Carol"]); c.RoomCode != now.RoomCode || c.Epoch != now.Epoch {
		t.Errorf("Carol (%+v) and Dave (%+v) differ after the replay", c, now)
	}
	if n := welcomes(); n != welcomedBefore {
		t.Errorf("a commit after the replay welcomed the departed Bob: %v", sentTo(p, bobID))
	}
}

// TestBrowserHostileRoomCode: without an invite secret, everyone in a room
// sees one room code; a server that splits the room (it sends Carol's join
// to another room and tells her it is the same one) cannot make Carol's
// code match the others'.
func TestBrowserHostileRoomCode(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t)
	room := browserRoom("code")
	split := room + "-split"
	p.ToServer(func(_ *hostile.Conn, m hostile.Message) []hostile.Message {
		var name string
		if m.Type() == "join" && m.Get("name", &name) && name == "Carol" {
			m.Set("room", split)
		}
		return []hostile.Message{m}
	})
	p.ToClient(func(c *hostile.Conn, m hostile.Message) []hostile.Message {
		var r string
		if m.Type() == "welcome" && m.Get("room", &r) && r == split {
			m.Set("room", room)
		}
		return []hostile.Message{m}
	})
	pages := openHostile(t, b, p, room, "", "Alice", "Bob", "Carol")
	waitOrDump(t, pages["Bob"], "Bob in the group", `parley.e2ee()?.members?.length === 2 && !!parley.e2ee().roomCode`, e2eeTimeout)
	waitOrDump(t, pages["Carol"], "Carol has a code", `!!parley.e2ee()?.roomCode`, e2eeTimeout)
	a, bb, c := mlsOf(t, pages["Alice"]), mlsOf(t, pages["Bob"]), mlsOf(t, pages["Carol"])
	if a.RoomCode != bb.RoomCode {
		t.Errorf("Alice and Bob, in one group, see %q and %q", a.RoomCode, bb.RoomCode)
	}
	if c.RoomCode == a.RoomCode {
		t.Errorf("the split Carol sees the same code as Alice: %q", c.RoomCode)
	}
}

// TestBrowserHostileCommitInFlight: the server holds back the commit that
// adds Bob, lets Carol join meanwhile, then delivers what it held in
// reverse order. Everyone ends in one group of three with one room code.
func TestBrowserHostileCommitInFlight(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t)
	room, secret := browserRoom("inflight"), roomSecret()
	hold := hostile.NewHolder(func(_ *hostile.Conn, m hostile.Message) bool { return mlsKind(m) == "commit" })
	p.ToClient(hold.Script)
	pages := openHostile(t, b, p, room, secret, "Alice")
	waitOrDump(t, pages["Alice"], "Alice's group", `parley.e2ee()?.member === true`, e2eeTimeout)
	hold.On(true)
	for _, n := range []string{"Bob", "Carol"} {
		pages[n] = b.NewPage(t, hostileURL(p, room, n, secret))
	}
	deadline := time.Now().Add(e2eeTimeout)
	for time.Now().Before(deadline) && hold.Held() == 0 {
		time.Sleep(200 * time.Millisecond)
	}
	if hold.Held() == 0 {
		t.Fatal("no commit was held")
	}
	time.Sleep(2 * time.Second)
	hold.On(false)
	hold.Release(true)
	for _, n := range []string{"Alice", "Bob", "Carol"} {
		waitOrDump(t, pages[n], n+" in the group of 3", `parley.e2ee()?.members?.length === 3`, e2eeTimeout)
	}
	a := mlsOf(t, pages["Alice"])
	for _, n := range []string{"Bob", "Carol"} {
		if v := mlsOf(t, pages[n]); v.RoomCode != a.RoomCode || v.Epoch != a.Epoch {
			t.Errorf("%s: %+v, Alice %+v", n, v, a)
		}
	}
}
