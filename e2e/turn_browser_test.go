package e2e

// The TURN relay end to end (docs/turn.md): two Chromium pages that may only use
// relay candidates (?relay=1 sets iceTransportPolicy "relay") call each other
// through the embedded TURN server, started the way `make run` starts it but
// on loopback with loopback allowed as a relay peer.

import (
	"fmt"
	"testing"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsSelectedPairTypes lists, for every peer connection, the candidate types
// of its selected pair as "local/remote" (getStats: transport →
// selectedCandidatePairId → candidate-pair → local/remote candidate).
const jsSelectedPairTypes = `(async () => {
  const out = [];
  for (const p of parley.peers()) {
    if (!p.pc) continue;
    const stats = await p.pc.getStats();
    const byId = new Map();
    stats.forEach((r) => byId.set(r.id, r));
    stats.forEach((r) => {
      if (r.type !== 'transport' || !r.selectedCandidatePairId) return;
      const pair = byId.get(r.selectedCandidatePairId);
      const l = pair && byId.get(pair.localCandidateId);
      const rc = pair && byId.get(pair.remoteCandidateId);
      out.push((l ? l.candidateType : '?') + '/' + (rc ? rc.candidateType : '?'));
    });
  }
  return out;
})()`

func TestBrowserCallThroughTURNRelay(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.TURN.Listen = "127.0.0.1:0"
		c.TURN.PublicIP = "127.0.0.1"
		c.TURN.AllowPeers = []string{"127.0.0.0/8"}
	})
	b := browsertest.New(t)
	room := browserRoom("relay")
	a := b.NewPage(t, browserRoomURL(ts, room, "A")+"&relay=1")
	bp := b.NewPage(t, browserRoomURL(ts, room, "B")+"&relay=1")

	for _, p := range []*browsertest.Page{a, bp} {
		other := map[*browsertest.Page]string{a: "B", bp: "A"}[p]
		p.MustWaitFor(fmt.Sprintf(jsTileHasFrames, other), browserJoinTimeout)
		expectRemoteVideo(t, p, "relay", []string{other}, nil, true)
		types := browsertest.MustEval[[]string](p, jsSelectedPairTypes)
		if len(types) == 0 {
			t.Fatalf("no selected candidate pair on any connection")
		}
		for _, ty := range types {
			if ty != "relay/relay" {
				t.Errorf("selected candidate pair %s, want relay/relay (all pairs: %v)", ty, types)
			}
		}
	}
	st := ts.Srv.TURN().Stats()
	if st.AllocationsTotal == 0 || st.PacketsToPeers == 0 {
		t.Errorf("the relay carried nothing: %+v", st)
	}
	t.Logf("TURN after the call: %d allocations, %d packets / %d bytes relayed to peers", st.AllocationsTotal, st.PacketsToPeers, st.BytesToPeers)
}
