package e2e

// A hostile server that decides who is who (docs/e2ee.md "Threat model"):
// it relabels names in `welcome`/`peer-joined`, and in SFU mode it
// rewrites the SFU's `tracks` payload so one participant's video lands on
// another's tile. The client shows the MLS credential's name and plays a
// track only on the tile of the participant whose key decrypts it.

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/hostile"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsTileName is the name shown on the remote camera tile of participant id
// %q ("" when there is none).
const jsTileName = `(() => {
  const t = document.querySelector('.tile:not([data-self]):not(.screen)[data-peer-id=%q]');
  return t ? t.dataset.peer : '';
})()`

// TestBrowserHostileRelabel: the server tells Bob that Alice is "Carol".
// Bob's tile for Alice must say Alice (her MLS credential), not what the
// server says.
func TestBrowserHostileRelabel(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	p.ToClient(hostile.For("Bob", hostile.Relabel("Alice", "Carol")))
	b := e2eeBrowser(t)
	room, secret := browserRoom("relabel"), roomSecret()
	alice := openHostile(t, b, p, room, secret, "Alice")["Alice"]
	bob := openHostile(t, b, p, room, secret, "Bob")["Bob"]
	aliceID := pageID(t, alice)
	shown := fmt.Sprintf(jsTileName, aliceID)
	waitOrDump(t, bob, "Bob's tile for Alice shows her credential's name", shown+` === 'Alice'`, e2eeTimeout)
}

// jsGreenCamera makes a page's camera a green canvas (its microphone stays
// the fake one), so one browser can show two pictures: a second browser
// with another fake-camera file is too heavy for a busy 2-core machine.
const jsGreenCamera = `(() => {
  const md = navigator.mediaDevices;
  const orig = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const s = await orig(c);
    if (!c || !c.video) return s;
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 180;
    const g = canvas.getContext('2d');
    const paint = () => { g.fillStyle = 'rgb(0, 200, 0)'; g.fillRect(0, 0, 320, 180); };
    paint();
    setInterval(paint, 66);
    const v = canvas.captureStream(15).getVideoTracks()[0];
    for (const t of s.getVideoTracks()) { s.removeTrack(t); t.stop(); }
    s.addTrack(v);
    return s;
  };
})()`

func isGreen(r, g, b int) bool { return g > 150 && r < 100 && b < 100 }

// colourOf names the colour of a pixel from jsTilePixels: red, green or "".
func colourOf(px []int) string {
	switch {
	case len(px) != 3:
		return ""
	case isKnownColour(px[0], px[1], px[2]):
		return "red"
	case isGreen(px[0], px[1], px[2]):
		return "green"
	}
	return ""
}

// TestBrowserHostileReroute: in an SFU room, Alice's camera is red and
// Bob's green; the server tells Carol that Alice's tracks are Bob's and
// Bob's are Alice's. Carol's tiles must never show the wrong picture (the
// frames do not decrypt under the tile's participant's key, so they are
// dropped) and the rerouted tiles must not claim a verified lock.
func TestBrowserHostileReroute(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) { c.Policy = "sfu-only" })
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t) // red
	room, secret := browserRoom("reroute"), roomSecret()
	alice := openHostile(t, b, p, room, secret, "Alice")["Alice"]
	bob := b.NewPage(t, hostileURL(p, room, "Bob", secret), browsertest.WithInitScript(jsGreenCamera))
	waitOrDump(t, bob, "Bob in call", `parley.state === 'in-call' && !!parley.id`, e2eeTimeout)
	aliceID, bobID := pageID(t, alice), pageID(t, bob)
	p.ToClient(hostile.For("Carol", hostile.RerouteTracks(map[string]string{aliceID: bobID, bobID: aliceID})))
	carol := openHostile(t, b, p, room, secret, "Carol")["Carol"]
	// Honest control: Alice sees Bob green.
	waitOrDump(t, alice, "Alice sees Bob's green", fmt.Sprintf(`(() => { const c = %s.Bob; return !!c && c[1] > 150 && c[0] < 100 && c[2] < 100; })()`, jsTilePixels), e2eeTimeout)

	want := map[string]string{"Alice": "red", "Bob": "green"}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		px := browsertest.MustEval[map[string][]int](carol, jsTilePixels)
		for n, c := range want {
			if got := colourOf(px[n]); got != "" && got != c {
				t.Fatalf("Carol's tile for %s shows %s, the other participant's picture\ne2ee %s", n, got, e2eeDump(carol))
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	locks := browsertest.MustEval[map[string]string](carol, jsE2EEState)
	t.Logf("Carol's tiles after 10 s: pixels %v, locks %v", browsertest.MustEval[map[string][]int](carol, jsTilePixels), locks)
	for n := range want {
		if locks[n] == "verified" {
			t.Errorf("Carol's tile for %s, showing rerouted frames, claims a verified lock: %v", n, locks)
		}
	}
}
