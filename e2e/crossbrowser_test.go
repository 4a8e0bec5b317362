package e2e

// Firefox and Chromium in one call (docs/browsers.md), with E2EE
// on and the invite link's secret: a mesh where each browser makes the
// offer, a three-page SFU room (Chromium, Firefox, Chromium) reached and
// left by the mesh ⇄ SFU switch, chat and a 5 MiB file both ways, and
// Firefox showing a Chromium screen share, and a mesh of three at the
// default size. Then a mesh link that cannot connect: its tile says so,
// and it heals through the relay, or without TURN through the SFU.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// TestCrossBrowser: one Chromium and one Firefox for every step (the
// browsers start once), a server with mesh_max 2.
//
//   - a stats call on a connection closed under it settles in both
//     browsers (stats_closed_test.go).
//   - mesh, Firefox offers: Chromium A, then Firefox F joins (the newcomer
//     offers: the case Chromium refused before sdp.js); chat both ways and
//     a 5 MiB file F → A and one A → F.
//   - mesh, Chromium offers: F, then A joins.
//   - SFU: Chromium B joins that room, which moves it to the SFU; everyone
//     sees, hears and decrypts everyone; chat and a 5 MiB file A → F and F → A; F
//     sees A's screen share.
//   - back to mesh: B leaves, and the room moves back to mesh with F in it.
//   - mesh of three, Firefox third: a second server at the default
//     mesh_max (6); Chromium A and B, then Firefox F join one room, which
//     stays a mesh: F offers to both. Every remote tile presents frames,
//     audio arrives, decrypt counters rise, locks are verified.
//
// Each mesh step proves from the links' negotiation traces which browser
// offered.
func TestCrossBrowser(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.MeshMax = 2
		c.MeshDownDelay = 2 * time.Second
	})
	chromium := browsertest.New(t)
	firefox := browsertest.NewFirefox(t)
	secret := roomSecret()

	t.Run("a stats call on a connection closed under it", func(t *testing.T) {
		for _, o := range []browsertest.Opener{chromium, firefox} {
			tab := o.Open(t, ts.URL)
			statsClosed(t, tab)
			_ = tab.Close()
		}
	})
	ok := t.Run("mesh, Firefox offers", func(t *testing.T) {
		room := browserRoom("xb-mesh-ff")
		a := xbJoin(t, chromium, ts, room, "A", secret)
		f := xbJoin(t, firefox, ts, room, "F", secret)
		pages := []*xbPage{a, f}
		xbExpectCall(t, "mesh, Firefox offered", pages, nil)
		xbOfferedBy(t, f, a)
		xbChatAndFile(t, "mesh", f, a)
		xbFile(t, "mesh", a, f) // and the other way
		for _, p := range pages {
			_ = p.tab.Close()
		}
	})
	if !ok {
		return
	}

	// The pages of the next steps belong to the whole test (a subtest's
	// pages close when it ends).
	room := browserRoom("xb-sfu")
	f := xbJoin(t, firefox, ts, room, "F", secret)
	a := xbJoin(t, chromium, ts, room, "A", secret)
	ok = t.Run("mesh, Chromium offers", func(t *testing.T) {
		xbExpectCall(t, "mesh, Chromium offered", []*xbPage{f, a}, nil)
		xbOfferedBy(t, a, f)
	})
	if !ok {
		return
	}

	for _, p := range []*xbPage{a, f} {
		xbWait(t, p, "has the SFU pre-flight done", `parley.sfu()?.state === 'connected'`)
	}
	b := xbJoin(t, chromium, ts, room, "B", secret)
	ok = t.Run("SFU", func(t *testing.T) {
		pages := []*xbPage{a, f, b}
		for _, p := range pages {
			xbWait(t, p, "moved to the SFU", fmt.Sprintf(jsInCall, "sfu", 2, "sfu"))
		}
		xbExpectCall(t, "SFU", pages, nil)
		xbChatAndFile(t, "SFU", a, f)
		xbFile(t, "SFU", f, a) // and the other way

		// A Chromium screen share (the fake capture) on Firefox's screen.
		if err := a.tab.Click("#screen-toggle"); err != nil {
			t.Fatal(err)
		}
		xbWait(t, a, "is sharing", `document.querySelector('#screen-toggle').getAttribute('aria-pressed') === 'true'`)
		xbRising(t, f, "SFU, A sharing", []string{"A", "A (screen)", "B"})
		if err := a.tab.Click("#screen-toggle"); err != nil {
			t.Fatal(err)
		}
		xbWait(t, f, "loses A's screen tile", `!document.querySelector('.tile[data-peer="A (screen)"]')`)
	})
	if !ok {
		return
	}

	t.Run("back to mesh", func(t *testing.T) {
		if err := b.tab.Close(); err != nil {
			t.Fatal(err)
		}
		pages := []*xbPage{a, f}
		for _, p := range pages {
			xbWait(t, p, "back in a mesh", fmt.Sprintf(jsInCall, "mesh", 1, "mesh")+` && parley.peers()[0].pc?.connectionState === 'connected'`)
		}
		xbExpectCall(t, "back in mesh", pages, nil)
	})

	// The room docs/browsers.md promises works, at the default mesh size: it
	// stays a mesh of three. Firefox joins last, so it offers to both
	// Chromium pages (the order no step above has).
	t.Run("mesh of three, Firefox third", func(t *testing.T) {
		start := time.Now()
		ts := testserver.Start(t, nil)
		room := browserRoom("xb-three")
		a := xbJoin(t, chromium, ts, room, "A", secret)
		b := xbJoin(t, chromium, ts, room, "B", secret)
		f := xbJoin(t, firefox, ts, room, "F", secret)
		pages := []*xbPage{a, b, f}
		for _, p := range pages {
			xbWait(t, p, "in a mesh of three", fmt.Sprintf(jsInCall, "mesh", 2, "mesh"))
		}
		t.Logf("mesh of three: joined and linked after %v", time.Since(start).Round(100*time.Millisecond))
		xbExpectCall(t, "mesh of three", pages, nil)
		t.Logf("mesh of three: call checked after %v", time.Since(start).Round(100*time.Millisecond))
		xbOfferedBy(t, f, a)
		xbOfferedBy(t, f, b)
		xbOfferedBy(t, b, a)
		for _, p := range pages {
			_ = p.tab.Close()
		}
	})
}

// jsBlockUntilRelay makes a page drop every remote ICE candidate of its
// mesh links while they may use direct paths (iceTransportPolicy 'all'): a
// network where only the relay gets through, and the browser's first try
// does not find it. Once the watchdog switches a link to relay only,
// candidates pass. The SFU link is not blocked (the server is reachable).
// Every note a tile shows (link or media state) is kept in
// window.__xbNotes, so a test sees notes that came and went between two
// of its polls.
const jsBlockUntilRelay = `(() => {
  const blocked = (pc) => pc.getConfiguration().iceTransportPolicy !== 'relay' && window.parley?.sfu?.()?.pc !== pc;
  const add = RTCPeerConnection.prototype.addIceCandidate;
  RTCPeerConnection.prototype.addIceCandidate = function (c, ...rest) {
    if (c && c.candidate && blocked(this)) return Promise.resolve();
    return add.call(this, c, ...rest);
  };
  const srd = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d, ...rest) {
    if (d && typeof d.sdp === 'string' && blocked(this)) {
      d = { type: d.type, sdp: d.sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:')).join('\r\n') };
    }
    return srd.call(this, d, ...rest);
  };
  window.__xbNotes = [];
  const seen = () => {
    for (const n of document.querySelectorAll('.tile .link-state, .tile .media-state')) {
      const s = n.className + ': ' + n.textContent;
      if (!window.__xbNotes.includes(s)) window.__xbNotes.push(s);
    }
  };
  new MutationObserver(seen).observe(document, { subtree: true, childList: true, characterData: true });
})()`

// TestBrowserMeshLinkHeals: two pages whose direct path is blocked. After
// 10 s each tile says "Can't connect directly to NAME — trying another way"
// next to a lock that does not claim all is well (its media state says
// nothing arrives; a verified lock reads "Keys verified — no media yet");
// the link then heals by itself, and the note and the media state go. The
// watchdogs' ladders (parley.ladders()) show the ICE restart before the
// relay.
//
//   - Chromium ↔ Chromium: healed through the TURN relay, nothing past it.
//   - Chromium ↔ Firefox: healed, through the relay or, where the relay
//     rung does not connect within its 10 s, by the next rung (the room
//     moves to the SFU); the test logs which.
func TestBrowserMeshLinkHeals(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.TURN.Listen = "127.0.0.1:0"
		c.TURN.PublicIP = "127.0.0.1"
		c.TURN.AllowPeers = []string{"127.0.0.0/8"}
	})
	chromium := browsertest.New(t)
	t.Run("Chromium", func(t *testing.T) {
		pages := xbBlockedPair(t, ts, "xb-heal", chromium, chromium)
		for _, p := range pages {
			xbWait(t, p, "healed", `parley.peers()[0]?.pc?.connectionState === 'connected' && !document.querySelector('.tile[data-link]')`)
			xbWait(t, p, "shows the media arriving", `!document.querySelector('.tile[data-media], .tile .e2ee[data-media]')`)
		}
		xbExpectCall(t, "healed through the relay", pages, nil)
		for _, p := range pages {
			types := xbEval[[]string](t, p, jsSelectedPairTypes)
			if len(types) != 1 || !strings.Contains(types[0], "relay") {
				t.Errorf("%s: selected candidate pairs %v, want one through the relay", p.name, types)
			}
		}
		xbLadders(t, pages, true)
		for _, p := range pages {
			_ = p.tab.Close()
		}
	})
	t.Run("Chromium and Firefox", func(t *testing.T) {
		pages := xbBlockedPair(t, ts, "xb-heal-ff", chromium, browsertest.NewFirefox(t))
		healed := `!document.querySelector('.tile[data-link], .tile[data-media], .tile .e2ee[data-media]') &&
  ((parley.mode === 'mesh' && parley.peers()[0]?.pc?.connectionState === 'connected') || (parley.mode === 'sfu' && parley.peers()[0]?.path === 'sfu'))`
		for _, p := range pages {
			xbWait(t, p, "healed", healed)
		}
		xbExpectCall(t, "healed", pages, nil)
		mode := xbEval[string](t, pages[0], `parley.mode`)
		if mode == "mesh" {
			for _, p := range pages {
				if types := xbEval[[]string](t, p, jsSelectedPairTypes); len(types) != 1 || !strings.Contains(types[0], "relay") {
					t.Errorf("%s (%s): selected candidate pairs %v, want one through the relay", p.name, p.tab.Kind(), types)
				}
			}
		}
		t.Logf("Chromium ↔ Firefox healed in mode %s", mode)
		xbLadders(t, pages, mode == "mesh")
	})
}

// xbBlockedPair opens A (in a) and B (in b) in a new room with the direct
// path between them blocked (jsBlockUntilRelay) and waits until each tile
// says the link cannot connect, with a media state saying nothing arrives
// and a lock (if shown yet) that does not look or read plain verified.
func xbBlockedPair(t *testing.T, ts *testserver.Server, prefix string, a, b browsertest.Opener) []*xbPage {
	t.Helper()
	secret := roomSecret()
	room := browserRoom(prefix)
	block := browsertest.WithInitScript(jsBlockUntilRelay)
	var pages []*xbPage
	for _, o := range []struct {
		name   string
		opener browsertest.Opener
	}{{"A", a}, {"B", b}} {
		p := &xbPage{name: o.name, tab: o.opener.Open(t, e2eeRoomURL(ts, room, o.name, secret), block)}
		xbWait(t, p, "in the call", `parley.state === 'in-call' && !!parley.id`)
		pages = append(pages, p)
	}
	other := map[string]string{"A": "B", "B": "A"}
	for _, p := range pages {
		note := fmt.Sprintf("Can't connect directly to %s — trying another way", other[p.name])
		xbWait(t, p, "shows the link problem", fmt.Sprintf(`(() => {
  const t = document.querySelector('.tile[data-peer=%q][data-link]');
  if (!t || t.querySelector('.link-state')?.textContent !== %q) return false;
  if (t.dataset.media !== 'waiting') return false;
  const lock = t.querySelector('[data-e2ee]');
  if (!lock) return true;
  if (lock.dataset.media !== 'none' || !lock.title.includes(%q)) return false;
  return lock.dataset.e2ee !== 'verified' || lock.title.startsWith('Keys verified — no media yet');
})()`, other[p.name], note, note))
		lock := xbEval[string](t, p, fmt.Sprintf(`(() => {
  const l = document.querySelector('.tile[data-peer=%q] [data-e2ee]');
  return l ? l.dataset.e2ee + ': ' + l.title : 'none';
})()`, other[p.name]))
		t.Logf("%s (%s): %q shown, lock %s", p.name, p.tab.Kind(), note, lock)
	}
	return pages
}

// xbLadders checks each page's watchdog ladder for its link to the other
// (parley.ladders(): every rung, kept after the link closed): an ICE
// restart first, then the relay; a page may have gone on to ask the server
// (the room's move to the SFU) only after its relay rung, and not at all
// when relayOnly (the relay healed the link).
func xbLadders(t *testing.T, pages []*xbPage, relayOnly bool) {
	t.Helper()
	relayed := false
	for _, p := range pages {
		ladders := xbEval[map[string][]string](t, p, `parley.ladders()`)
		var ladder []string
		for _, l := range ladders {
			ladder = l
		}
		t.Logf("%s (%s): ladder %v", p.name, p.tab.Kind(), ladder)
		if len(ladders) != 1 || len(ladder) == 0 || ladder[0] != "restart" {
			t.Errorf("%s (%s): ladders %v, want one link's, starting with an ICE restart", p.name, p.tab.Kind(), ladders)
			continue
		}
		r, s := slices.Index(ladder, "relay"), slices.Index(ladder, "server")
		if r > 0 {
			relayed = true
		}
		switch {
		case relayOnly && (s >= 0 || slices.Contains(ladder, "failed")):
			t.Errorf("%s (%s): ladder %v went past the relay, which healed the link", p.name, p.tab.Kind(), ladder)
		case s >= 0 && r < 0:
			t.Errorf("%s (%s): ladder %v asked the server without trying the relay", p.name, p.tab.Kind(), ladder)
		case s >= 0 && s < r:
			t.Errorf("%s (%s): ladder %v asked the server before the relay", p.name, p.tab.Kind(), ladder)
		}
	}
	if !relayed {
		t.Errorf("no page's watchdog took the relay rung after its ICE restart")
	}
}

// TestBrowserMeshLinkToSFU: two Chromium pages whose direct path is
// blocked, on a server without TURN: the watchdog's ladder (ICE restart,
// no relay to try) ends with `link-failed`, the room moves to the SFU and
// stays there, and the two see and hear each other through it — the tiles
// having said "Can't connect directly to NAME — trying another way", then
// "… — trying through the server", on the way.
func TestBrowserMeshLinkToSFU(t *testing.T) {
	// TURN off, SFU on, auto at mesh_max 6; an unpinned room of two would
	// return to mesh 2 s after the move.
	ts := testserver.Start(t, func(c *config.Config) { c.MeshDownDelay = 2 * time.Second })
	chromium := browsertest.New(t)
	secret := roomSecret()
	room := browserRoom("xb-via-sfu")
	block := browsertest.WithInitScript(jsBlockUntilRelay)
	var pages []*xbPage
	for _, n := range []string{"A", "B"} {
		p := &xbPage{name: n, tab: chromium.NewPage(t, e2eeRoomURL(ts, room, n, secret), block)}
		xbWait(t, p, "in the call", `parley.state === 'in-call' && !!parley.id && parley.mode === 'mesh'`)
		pages = append(pages, p)
	}
	start := time.Now()
	for _, p := range pages {
		xbWait(t, p, "moved to the SFU", fmt.Sprintf(jsInCall, "sfu", 1, "sfu"))
	}
	t.Logf("the room moved to the SFU %v after the second join", time.Since(start).Round(time.Second))
	xbExpectCall(t, "through the SFU", pages, nil)
	other := map[string]string{"A": "B", "B": "A"}
	for _, p := range pages {
		notes := xbEval[[]string](t, p, `window.__xbNotes`)
		for _, want := range []string{
			fmt.Sprintf("link-state: Can't connect directly to %s — trying another way", other[p.name]),
			fmt.Sprintf("link-state: Can't connect directly to %s — trying through the server", other[p.name]),
		} {
			if !slices.Contains(notes, want) {
				t.Errorf("%s: the tile never said %q on the way; notes seen: %q", p.name, want, notes)
			}
		}
		// Pinned: an auto room of two would return to mesh 2 s after the
		// move (more than that has passed); it stays while the pair is in it.
		if mode := xbEval[string](t, p, `parley.mode`); mode != "sfu" {
			t.Errorf("%s: the room went back to %s %v after the move", p.name, mode, time.Since(start).Round(time.Second))
		}
	}
}
