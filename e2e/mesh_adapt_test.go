package e2e

// Mesh adaptation in Chromium (docs/protocol.md "Mesh
// adaptation"): each mesh link sends one encoding sized to the receiver's
// tile. A receiver that shrinks a sender's tile gets a smaller picture from
// that sender, one that enlarges it the full picture, and one that cannot
// see it no video at all; back in view, video again.

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsMeshInbound maps each mesh peer's id to what our link to them receives
// of their camera (getStats "inbound-rtp", the largest video stream: the
// screen slot carries nothing here).
const jsMeshInbound = `(async () => {
  const out = {};
  for (const p of parley.peers()) {
    if (!p.pc) continue;
    let best = null;
    (await p.pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
      if (!best || (r.bytesReceived || 0) > best.bytes) {
        best = { w: r.frameWidth || 0, h: r.frameHeight || 0, frames: r.framesDecoded || 0, bytes: r.bytesReceived || 0 };
      }
    });
    if (best) out[p.id] = best;
  }
  return out;
})()`

func meshInbound(t *testing.T, p *browsertest.Page) map[string]inbound {
	t.Helper()
	return browsertest.MustEval[map[string]inbound](p, jsMeshInbound)
}

// waitMeshInbound polls what p receives from id over the mesh until ok holds.
func waitMeshInbound(t *testing.T, p *browsertest.Page, id, what string, timeout time.Duration, ok func(inbound) bool) inbound {
	t.Helper()
	return pollInbound(t, p, jsMeshInbound, "", id, what, timeout, ok)
}

// TestBrowserMeshAdapt: A and B in a mesh; A makes B's tile small, large,
// moves it out of view and back. B's encoding toward A follows.
func TestBrowserMeshAdapt(t *testing.T) {
	ts := testserver.Start(t, nil)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 800))
	room := browserRoom("meshadapt")
	a := b.NewPage(t, browserRoomURL(ts, room, "A"))
	bp := b.NewPage(t, browserRoomURL(ts, room, "B"))
	expectRemoteVideo(t, a, "A in mesh", []string{"B"}, nil, true)
	expectRemoteVideo(t, bp, "B in mesh", []string{"A"}, nil, true)
	bID := pageID(t, bp)

	// Full size first: what B's camera sends when the tile is large.
	placeTile(t, a, bID, "position:fixed;left:0;top:0;width:1280px;height:720px;z-index:10")
	full := waitMeshInbound(t, a, bID, "large tile", 30*time.Second, func(in inbound) bool { return in.W > 0 })
	time.Sleep(2 * time.Second) // any rescale in flight settles
	full = waitMeshInbound(t, a, bID, "large tile", 30*time.Second, func(in inbound) bool { return in.W >= full.W })
	t.Logf("large tile receives %v×%v", full.W, full.H)

	// Small: a quarter of the camera's width fills an 80×45 tile at DPR 1
	// (or less, for a camera wider than 320).
	placeTile(t, a, bID, "position:fixed;left:0;top:0;width:80px;height:45px;z-index:10")
	small := waitMeshInbound(t, a, bID, "small tile", 30*time.Second, func(in inbound) bool { return in.W > 0 && in.W <= full.W/2 })
	t.Logf("small tile receives %v×%v", small.W, small.H)

	// Large again: the full picture comes back.
	placeTile(t, a, bID, "position:fixed;left:0;top:0;width:1280px;height:720px;z-index:10")
	waitMeshInbound(t, a, bID, "large tile again", 30*time.Second, func(in inbound) bool { return in.W >= full.W })

	// Out of view: no video from B.
	placeTile(t, a, bID, "position:fixed;left:-5000px;top:0;width:320px;height:180px")
	time.Sleep(2 * time.Second) // the report's debounce, and packets on their way
	before := meshInbound(t, a)[bID]
	time.Sleep(2 * time.Second)
	after := meshInbound(t, a)[bID]
	if got := after.Bytes - before.Bytes; got > 2000 {
		t.Errorf("a tile out of view still received %v bytes of video in 2 s", got)
	}

	// Back in view: video again.
	placeTile(t, a, bID, "")
	waitMeshInbound(t, a, bID, "back in view", 30*time.Second, func(in inbound) bool { return in.Frames > after.Frames+3 })

	// The other direction is its own: B, whose tile of A nobody touched,
	// still receives A.
	if in := meshInbound(t, bp)[pageID(t, a)]; in.W == 0 {
		t.Errorf("B receives no video from A: %+v", in)
	}
}
