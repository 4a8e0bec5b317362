package e2e

// Helpers of the cross-browser tests (crossbrowser_test.go), written over
// browsertest.Tab so that every check runs the same in Chromium and in
// Firefox. What they assert is what a person sees and hears: frames
// presented on each remote tile (requestVideoFrameCallback: Firefox's
// getVideoPlaybackQuality stays 0 for MediaStream video), audio packets
// arriving, frames decrypted, verified locks, and no link problem shown.

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// xbTimeout bounds one cross-browser step (a join, the first frames, a
// switch, a 5 MiB file) on a busy 2-core machine running two browsers.
const xbTimeout = 45 * time.Second

// xbFileSize is the file the tests send each way: 5 MiB.
const xbFileSize = 5 << 20

// xbMinFrames is how many more frames each remote tile must present while a
// check waits: a few, so a frozen picture cannot pass.
const xbMinFrames = 5

// jsXBFrames maps each remote tile (data-peer) to the frames its visible
// video presented since the first call, counted with requestVideoFrameCallback
// on the tile (a tile that swaps its <video>, as a mesh ⇄ SFU move does,
// keeps counting).
const jsXBFrames = `(() => {
  const out = {};
  for (const t of document.querySelectorAll('.tile:not([data-self])')) {
    const v = t.querySelector('video.live') || t.querySelector('video');
    t.__xb ??= { n: 0, v: null };
    if (v && t.__xb.v !== v) {
      t.__xb.v = v;
      const tick = () => {
        if (t.__xb.v !== v) return;
        t.__xb.n++;
        v.requestVideoFrameCallback(tick);
      };
      v.requestVideoFrameCallback(tick);
    }
    out[t.dataset.peer] = t.__xb.n;
  }
  return out;
})()`

// jsXBAudio is the audio packets received so far on every connection of
// the page: per mesh link (by name) and "sfu" for the SFU link.
const jsXBAudio = `(async () => {
  const out = {};
  const count = async (pc) => {
    let n = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived || 0;
    });
    return n;
  };
  for (const p of parley.peers()) if (p.pc) out[p.name] = await count(p.pc);
  const s = parley.sfu();
  if (s?.pc && parley.mode === 'sfu') out.sfu = await count(s.pc);
  return out;
})()`

// jsXBLinks lists the tiles that show a link problem (data-peer: text).
const jsXBLinks = `Object.fromEntries([...document.querySelectorAll('.tile[data-link]')].map((t) =>
  [t.dataset.peer, t.querySelector('.link-state')?.textContent ?? '']))`

// xbPage is one participant's page in either browser.
type xbPage struct {
	name string
	tab  browsertest.Tab
}

// xbJoin opens name's page in room with the invite secret and waits until it is in the call.
func xbJoin(t *testing.T, o browsertest.Opener, ts *testserver.Server, room, name, secret string) *xbPage {
	t.Helper()
	p := &xbPage{name: name, tab: o.Open(t, e2eeRoomURL(ts, room, name, secret))}
	// A failure seen on one page is often caused by the other browser:
	// every page of a failed test says where it ended (this runs before
	// the tab closes).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (%s) at the end: %s", p.name, p.tab.Kind(), xbState(p))
		}
	})
	xbWait(t, p, "in the call", `parley.state === 'in-call' && !!parley.id`)
	return p
}

// xbWait waits for cond on p, and dumps the page's state when it stays false.
func xbWait(t *testing.T, p *xbPage, label, cond string) {
	t.Helper()
	if _, err := p.tab.WaitFor(cond, xbTimeout); err != nil {
		t.Fatalf("%s (%s) %s: %v\npage: %s", p.name, p.tab.Kind(), label, err, xbState(p))
	}
}

// xbState summarizes a page for failure messages (works in both browsers).
func xbState(p *xbPage) string {
	s, err := browsertest.Eval[string](p.tab, `(async () => JSON.stringify({
  state: parley.state, mode: parley.mode, id: parley.id,
  peers: parley.peers().map((p) => [p.name, p.path, p.pc?.connectionState, p.pc?.signalingState]),
  sfu: parley.sfu()?.state,
  tiles: [...document.querySelectorAll('.tile')].map((t) => [t.dataset.peer, t.dataset.state, t.dataset.link ?? '',
    t.querySelector('[data-e2ee]')?.dataset.e2ee ?? '', t.__xb?.n ?? 0]),
  e2ee: parley.e2ee(),
  routing: parley.routing?.().map((r) => [r.id, r.trace.slice(-20)]),
  media: parley.media?.(), mediaInputs: await parley.mediaInputs?.(),
}))()`)
	if err != nil {
		return err.Error()
	}
	return s
}

// xbEval is browsertest.Eval that fails t, the test that runs the check
// (MustEval would fail the test that opened the page: a parent of t).
func xbEval[T any](t *testing.T, p *xbPage, js string) T {
	t.Helper()
	v, err := browsertest.Eval[T](p.tab, js)
	if err != nil {
		t.Fatalf("%s (%s): %v", p.name, p.tab.Kind(), err)
	}
	return v
}

// xbPeerIDs maps the other pages' names to their participant ids.
func xbPeerIDs(t *testing.T, pages []*xbPage, self *xbPage) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, q := range pages {
		if q != self {
			ids[q.name] = xbEval[string](t, q, `parley.id`)
		}
	}
	return ids
}

// xbExpectCall checks, on every page, what a person sees and hears of the
// others: every remote tile in tiles[page] presents new frames, audio
// packets keep arriving on every connection, frames from every other
// participant are decrypted (and the counters rise), every lock says
// verified, and no tile shows a link or media problem.
func xbExpectCall(t *testing.T, label string, pages []*xbPage, tiles map[string][]string) {
	t.Helper()
	for _, p := range pages {
		t0 := time.Now()
		ids := xbPeerIDs(t, pages, p)
		others := slices.Sorted(maps.Keys(ids))
		waitLocksTab(t, p, label, others)
		locked := time.Since(t0)
		want := tiles[p.name]
		if want == nil {
			want = others
		}
		first := xbRising(t, p, label, want)
		xbDecrypting(t, p, label, ids)
		if links := xbEval[map[string]string](t, p, jsXBLinks); len(links) > 0 {
			t.Errorf("%s: %s shows link problems on a working call: %v", label, p.name, links)
		}
		// The media state (mediastate.js) samples once a second: it may
		// lag the frames counted above by a tick.
		xbWait(t, p, "shows no media problem on a working call", `!document.querySelector('.tile[data-media], .tile .e2ee[data-media]')`)
		t.Logf("%s: %s (%s) sees %v presenting frames (%v); checked in %v (locks verified after %v)",
			label, p.name, p.tab.Kind(), want, first, time.Since(t0).Round(100*time.Millisecond), locked.Round(100*time.Millisecond))
	}
}

// waitLocksTab waits until p's camera-tile locks of names all say verified.
func waitLocksTab(t *testing.T, p *xbPage, label string, names []string) {
	t.Helper()
	deadline := time.Now().Add(xbTimeout)
	var got map[string]string
	for time.Now().Before(deadline) {
		got = xbEval[map[string]string](t, p, jsE2EEState)
		ok := true
		for _, n := range names {
			ok = ok && got[n] == "verified"
		}
		if ok {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: %s's locks %v, want verified for %v\npage: %s", label, p.name, got, names, xbState(p))
}

// xbRising waits until each tile in want presented xbMinFrames new frames
// and the audio packet count of every connection rose; it returns the
// frame counts it ended with.
func xbRising(t *testing.T, p *xbPage, label string, want []string) map[string]int {
	t.Helper()
	frames0 := xbEval[map[string]int](t, p, jsXBFrames)
	audio0 := xbEval[map[string]float64](t, p, jsXBAudio)
	deadline := time.Now().Add(xbTimeout)
	var frames map[string]int
	var audio map[string]float64
	for {
		time.Sleep(500 * time.Millisecond)
		frames = xbEval[map[string]int](t, p, jsXBFrames)
		audio = xbEval[map[string]float64](t, p, jsXBAudio)
		ok := len(audio) > 0
		for _, n := range want {
			f0, seen := frames0[n]
			if _, now := frames[n]; !now {
				ok = false
			} else if !seen {
				frames0[n] = frames[n] // a tile that appeared meanwhile counts from here
				ok = false
			} else if frames[n]-f0 < xbMinFrames {
				ok = false
			}
		}
		for k, a := range audio {
			if a <= audio0[k] {
				ok = false
			}
		}
		if ok {
			return frames
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s (%s) tiles %v: frames %v → %v, audio packets %v → %v\npage: %s",
				label, p.name, p.tab.Kind(), want, frames0, frames, audio0, audio, xbState(p))
		}
	}
}

// xbDecrypting waits until p encrypted frames and decrypted frames of every
// participant in ids, with each count rising between two readings.
func xbDecrypting(t *testing.T, p *xbPage, label string, ids map[string]string) {
	t.Helper()
	first := xbEval[map[string]float64](t, p, jsE2EEDecrypted)
	deadline := time.Now().Add(xbTimeout)
	var got map[string]float64
	for {
		time.Sleep(time.Second) // the worker reports its counters every second
		got = xbEval[map[string]float64](t, p, jsE2EEDecrypted)
		ok := got["encrypted"] > first["encrypted"]
		for _, id := range ids {
			ok = ok && got[id] > first[id]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s (%s) decrypted frames not rising (want from %v): %v → %v", label, p.name, p.tab.Kind(), ids, first, got)
		}
	}
}

// jsXBSendFile makes n random bytes in the page, offers them as a file to
// the participant named %q (through the file input, as a person picking a
// file does) and returns their SHA-256. Works in both browsers, which a
// driver's file-upload command would not.
const jsXBSendFile = `(async () => {
  const to = parley.peers().find((p) => p.name === %q)?.id;
  if (!to) throw new Error('no participant to send to');
  const s = document.getElementById('chat-to');
  s.value = to;
  if (s.value !== to) throw new Error('recipient not in the list');
  const n = %d, buf = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(buf.subarray(i, Math.min(n, i + 65536)));
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  const dt = new DataTransfer();
  dt.items.add(new File([buf], 'five.bin', { type: 'application/octet-stream' }));
  const input = document.getElementById('file-input');
  input.files = dt.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
})()`

// xbChatAndFile: from and to exchange a chat message each way, then from
// sends to a 5 MiB file, which to accepts and receives intact.
func xbChatAndFile(t *testing.T, label string, from, to *xbPage) {
	t.Helper()
	for _, p := range []*xbPage{from, to} {
		if open := xbEval[bool](t, p, `document.getElementById('chat-toggle').getAttribute('aria-expanded') === 'true'`); !open {
			if err := p.tab.Click("#chat-toggle"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, pair := range [][2]*xbPage{{from, to}, {to, from}} {
		text := fmt.Sprintf("%s: hello from %s (%s)", label, pair[0].name, pair[0].tab.Kind())
		xbEval[bool](t, pair[0], fmt.Sprintf(jsSendChat, text))
		xbWait(t, pair[1], "gets the chat from "+pair[0].name, fmt.Sprintf(jsChatFrom, pair[0].name, text))
	}
	xbFile(t, label, from, to)
}

// xbFile: from sends to a 5 MiB file, which to accepts and receives intact.
func xbFile(t *testing.T, label string, from, to *xbPage) {
	t.Helper()
	want := xbEval[string](t, from, fmt.Sprintf(jsXBSendFile, to.name, xbFileSize))
	offered := `.transfer[data-dir="in"][data-state="offered"] .accept`
	xbWait(t, to, "is offered the file", `!!document.querySelector('`+offered+`:not([hidden])')`)
	start := time.Now()
	if err := to.tab.Click(offered); err != nil {
		t.Fatal(err)
	}
	xbWaitTransfer(t, to)
	xbWait(t, to, "shows the file done", `!!document.querySelector('.transfer[data-dir="in"][data-state="done"] a.download')`)
	took := time.Since(start)
	if got := xbEval[string](t, to, jsDownloadSHA); got != want {
		t.Errorf("%s: %s's download has SHA-256 %s, want %s", label, to.name, got, want)
	}
	xbWait(t, from, "sees the transfer done", `parley.files().at(-1)?.state === 'done'`)
	t.Logf("%s: 5 MiB %s (%s) → %s (%s) in %v", label, from.name, from.tab.Kind(), to.name, to.tab.Kind(), took.Round(time.Millisecond))
}

// xbStall is how long a transfer may make no progress before the test
// gives up on it; the whole transfer may take longer (a loaded machine
// moved 5 MiB in 25–40 s).
const xbStall = 45 * time.Second

// xbWaitTransfer waits until p's incoming transfer is done, as long as it
// keeps making progress; it fails on an error state or a stall.
func xbWaitTransfer(t *testing.T, p *xbPage) {
	t.Helper()
	var last transferInfo
	moved := time.Now()
	for {
		// A page busy receiving on a loaded machine may not answer an
		// evaluation in time: that counts as no progress, not as a failure.
		cur, err := browsertest.Eval[transferInfo](p.tab, fmt.Sprintf(jsTransfer, "in"))
		if err != nil {
			t.Logf("%s: reading the transfer: %v", p.name, err)
			cur = last
		}
		switch cur.State {
		case "done":
			return
		case "failed", "cancelled", "declined":
			t.Fatalf("%s: the transfer ended %s: %s", p.name, cur.State, cur.Error)
		}
		if cur.Done > last.Done {
			moved = time.Now()
		}
		last = cur
		if time.Since(moved) > xbStall {
			t.Fatalf("%s: the transfer stalled at %.0f of %.0f bytes for %v\npage: %s", p.name, cur.Done, cur.Size, xbStall, xbState(p))
		}
		time.Sleep(time.Second)
	}
}

// jsXBFirstOffer is, per mesh link of the page (by the other's participant
// id), which side made its first offer: "sent" or "received" (mesh.js
// Peer.firstOffer, the negotiation trace's first description).
const jsXBFirstOffer = `Object.fromEntries((parley.routing?.() ?? []).map((r) => [r.id, r.firstOffer]))`

// xbOfferedBy asserts from both ends' negotiation traces that offerer made
// the first offer of its mesh link with answerer, and answerer none before
// receiving it: "Firefox offers" proven, not assumed from the join order.
func xbOfferedBy(t *testing.T, offerer, answerer *xbPage) {
	t.Helper()
	for _, side := range []struct {
		p, other *xbPage
		want     string
	}{{offerer, answerer, "sent"}, {answerer, offerer, "received"}} {
		id := xbEval[string](t, side.other, `parley.id`)
		got := xbEval[map[string]string](t, side.p, jsXBFirstOffer)
		if got[id] != side.want {
			t.Errorf("%s (%s): first offer of the link to %s was %q, want %q (%s offers)\npage: %s",
				side.p.name, side.p.tab.Kind(), side.other.name, got[id], side.want, offerer.tab.Kind(), xbState(side.p))
		}
	}
}
