package e2e

// A getStats call on a connection that closes under it, in either browser
// (web/js/stats.js): Firefox leaves the plain call pending for good, and
// the client's polls, which wait for one call before the next, stopped on
// it. statsOf must settle either way.

import (
	"testing"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
)

// jsStatsClosed connects two local connections with a canvas video, calls
// getStats (plain and through statsOf) on the receiving one, closes both in
// the same task, and reports how each call ended once statsOf's bound has
// passed: "resolved", "rejected NAME" or "pending".
const jsStatsClosed = `(async () => {
  const { statsOf, STATS_TIMEOUT_MS } = await import('/js/stats.js');
  const c = document.createElement('canvas');
  c.width = 160; c.height = 120;
  const g = c.getContext('2d');
  const paint = setInterval(() => { g.fillStyle = '#' + Math.floor(Math.random() * 4096).toString(16).padStart(3, '0'); g.fillRect(0, 0, 160, 120); }, 33);
  const stream = c.captureStream(30);
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate).catch(() => {});
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate).catch(() => {});
  stream.getTracks().forEach((tr) => a.addTrack(tr, stream));
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  const t0 = Date.now();
  while (b.connectionState !== 'connected') {
    if (Date.now() - t0 > 20000) throw new Error('the two connections did not connect: ' + b.connectionState);
    await new Promise((r) => setTimeout(r, 50));
  }
  const how = (p) => {
    const o = { v: 'pending' };
    p.then(() => { o.v = 'resolved'; }, (e) => { o.v = 'rejected ' + e.name; });
    return o;
  };
  const plain = how(b.getStats());
  const bounded = how(statsOf(b));
  b.close(); a.close();
  clearInterval(paint);
  await new Promise((r) => setTimeout(r, STATS_TIMEOUT_MS + 1000));
  return { plain: plain.v, bounded: bounded.v };
})()`

// statsClosed runs jsStatsClosed on a page of the server and fails t if
// statsOf did not settle.
func statsClosed(t *testing.T, tab browsertest.Tab) {
	t.Helper()
	got, err := browsertest.Eval[map[string]string](tab, jsStatsClosed)
	if err != nil {
		t.Fatalf("%s: %v", tab.Kind(), err)
	}
	t.Logf("%s: getStats on a connection closed under it: %s; through statsOf: %s", tab.Kind(), got["plain"], got["bounded"])
	if got["bounded"] == "pending" {
		t.Errorf("%s: statsOf still pending after its bound", tab.Kind())
	}
}
