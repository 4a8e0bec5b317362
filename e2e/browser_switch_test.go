package e2e

// The mesh ⇄ SFU switch in Chromium (docs/protocol.md "Modes and the switch"): make-before-break in both
// directions, measured in the page with requestVideoFrameCallback.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// switchTimeout bounds one switch (the protocol's fallback is at 10 s).
const switchTimeout = 25 * time.Second

// maxFrozen is the longest a remote tile may go without a new frame across a switch.
const maxFrozen = 1500 * time.Millisecond

// jsStartGaps starts recording, per remote tile present now, the gaps
// between presented frames of its visible <video> (the .live one: a move
// swaps the element), until jsStopGaps.
const jsStartGaps = `(() => {
  const st = { tiles: {}, stopped: false, t0: performance.now() };
  const armed = new WeakSet();
  for (const t of document.querySelectorAll('.tile:not([data-self])')) st.tiles[t.dataset.peer] = { last: 0, max: 0, frames: 0 };
  const arm = (tile, v) => {
    if (armed.has(v)) return;
    armed.add(v);
    const cb = () => {
      if (st.stopped || !v.isConnected) return;
      const r = st.tiles[tile.dataset.peer];
      if (r && v.classList.contains('live')) {
        const now = performance.now();
        if (r.last && now - r.last > r.max) {
          r.max = now - r.last;
          r.maxEnd = Math.round(now - st.t0); // when the longest gap ended (failure dumps)
        }
        r.last = now;
        r.frames++;
      }
      v.requestVideoFrameCallback(cb);
    };
    v.requestVideoFrameCallback(cb);
  };
  const scan = () => {
    for (const t of document.querySelectorAll('.tile:not([data-self])')) {
      for (const v of t.querySelectorAll('video')) arm(t, v);
    }
  };
  scan();
  st.timer = setInterval(scan, 20);
  window.__gaps = st;
  return true;
})()`

// jsStopGaps ends the recording and returns each tile's longest gap in ms
// (-1: the tile never showed a frame; a tile gone from the page is left out).
const jsStopGaps = `(() => {
  const st = window.__gaps;
  st.stopped = true;
  clearInterval(st.timer);
  const now = performance.now();
  const out = {};
  for (const [peer, r] of Object.entries(st.tiles)) {
    if (!document.querySelector('.tile:not([data-self])[data-peer="' + CSS.escape(peer) + '"]')) continue;
    out[peer] = r.frames ? Math.round(Math.max(r.max, now - r.last)) : -1;
  }
  return out;
})()`

// jsGapsDetail is what a failed gap check dumps: each tile's longest gap
// and when it ended (ms after the recording started), the page's switches
// and each mesh link's last negotiation steps.
const jsGapsDetail = `JSON.stringify({
  tiles: Object.fromEntries(Object.entries(window.__gaps?.tiles ?? {}).map(([k, r]) =>
    [k, { max: Math.round(r.max), maxEnd: r.maxEnd, frames: r.frames }])),
  switches: parley.switches().slice(-2),
  routing: parley.routing().map((r) => [r.id, r.trace.slice(-15)]),
})`

// jsSwitched is true when the page's room is in mode and every tile has moved.
const jsSwitched = `(() => document.querySelector('#mode').dataset.mode === %q && parley.mode === %q &&
  !parley.switching && parley.peers().length === %d && parley.peers().every((p) => p.path === %q))()`

// jsSFUBytes sums the media bytes the page's SFU connection sent and received.
const jsSFUBytes = `(async () => {
  const pc = parley.sfu()?.pc;
  let sent = 0, received = 0;
  if (pc) (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp') sent += r.bytesSent || 0;
    if (r.type === 'inbound-rtp') received += r.bytesReceived || 0;
  });
  return [sent, received];
})()`

// jsTileSources maps each remote tile to the connections its visible
// video's tracks come from, e.g. {"A": "audio:sfu video:sfu"}, and says
// "muted" when the element that should be heard is muted.
const jsTileSources = `(() => {
  const from = (track) => {
    const sfu = parley.sfu()?.pc;
    if (sfu && sfu.getReceivers().some((r) => r.track === track)) return 'sfu';
    if (parley.peers().some((p) => p.pc && p.pc.getReceivers().some((r) => r.track === track))) return 'mesh';
    return 'none';
  };
  const out = {};
  for (const t of document.querySelectorAll('.tile:not([data-self])')) {
    const v = t.querySelector('video.live');
    const tracks = v?.srcObject?.getTracks() ?? [];
    let s = tracks.map((k) => k.kind + ':' + from(k)).sort().join(' ');
    if (!t.classList.contains('screen') && v?.muted) s += ' muted';
    out[t.dataset.peer] = s;
  }
  return out;
})()`

// expectSources checks that every remote tile of p plays want[tile] (see jsTileSources).
func expectSources(t *testing.T, p *browsertest.Page, label string, want map[string]string) {
	t.Helper()
	got := browsertest.MustEval[map[string]string](p, jsTileSources)
	if !maps.Equal(got, want) {
		t.Errorf("%s: tiles play %v, want %v", label, got, want)
	}
}

// TestBrowserSwitch: A and B talk in a mesh and A shares its screen; C
// joins a room with mesh_max 2, so all three move to the SFU; C leaves and
// A and B move back to a mesh. No remote tile freezes for 1.5 s either way.
func TestBrowserSwitch(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.MeshMax = 2
		c.MeshDownDelay = 2 * time.Second
	})
	b := browsertest.New(t)
	room := browserRoom("switch")
	pages := map[string]*browsertest.Page{}
	for _, n := range []string{"A", "B"} {
		pages[n] = b.NewPage(t, browserRoomURL(ts, room, n))
	}
	expectRemoteVideo(t, pages["A"], "A in mesh", []string{"B"}, nil, true)
	expectRemoteVideo(t, pages["B"], "B in mesh", []string{"A"}, nil, true)
	// The grid layout, so that every tile is on screen and receives video:
	// in the default stage layout two screen shares and three cameras do
	// not all fit, and a tile on another page gets no video (docs/sfu.md).
	// C, opened later in the same browser, remembers the choice.
	pickLayout(t, pages["A"], "grid")
	pickLayout(t, pages["B"], "grid")
	if err := pages["A"].Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	expectRemoteVideo(t, pages["B"], "B in mesh", []string{"A", "A (screen)"}, nil, false)
	waitPreflight(t, pages["A"], pages["B"])

	// --- mesh → SFU ---------------------------------------------------
	startGaps(t, pages, "A", "B")
	joined := time.Now()
	pages["C"] = b.NewPage(t, browserRoomURL(ts, room, "C"))
	want := map[string][]string{"A": {"B", "C"}, "B": {"A", "A (screen)", "C"}, "C": {"A", "A (screen)", "B"}}
	for _, n := range []string{"A", "B", "C"} {
		waitOrDump(t, pages[n], n+" in SFU mode", fmt.Sprintf(jsSwitched, "sfu", "sfu", 2, "sfu"), switchTimeout)
	}
	took := time.Since(joined)
	gaps := stopGaps(t, pages, "A", "B")
	for _, n := range []string{"A", "B", "C"} {
		expectRemoteVideo(t, pages[n], n+" in SFU mode", want[n], nil, false)
		if open := browsertest.MustEval[int](pages[n], `parley.peers().filter((p) => p.pc).length`); open != 0 {
			t.Errorf("%s still has %d mesh connections in SFU mode", n, open)
		}
		// Sound moved with the picture: each camera tile plays both from the SFU.
		expectSources(t, pages[n], n+" in SFU mode", sfuSources(want[n]))
	}
	t.Logf("mesh → SFU: every page settled %v after C's tab opened; per-page switch times %v; longest frozen tile per page %v",
		took.Round(time.Millisecond), switchTimes(pages, "A", "B"), gaps)
	checkGaps(t, "mesh → SFU", gaps, pages)

	// A screen share started in SFU mode reaches the others through the SFU.
	if err := pages["B"].Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "C"} {
		tiles := append(slices.Clone(want[n]), "B (screen)")
		expectRemoteVideo(t, pages[n], n+" with B sharing in SFU mode", tiles, nil, false)
		expectSources(t, pages[n], n+" with B sharing in SFU mode", sfuSources(tiles))
	}
	if err := pages["B"].Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "C"} {
		waitOrDump(t, pages[n], n, `!document.querySelector('.tile[data-peer="B (screen)"]')`, browserJoinTimeout)
	}

	// --- SFU → mesh ---------------------------------------------------
	startGaps(t, pages, "A", "B")
	left := time.Now()
	if err := pages["C"].Close(); err != nil {
		t.Fatal(err)
	}
	delete(pages, "C")
	for _, n := range []string{"A", "B"} {
		waitOrDump(t, pages[n], n+" back in mesh", fmt.Sprintf(jsSwitched, "mesh", "mesh", 1, "mesh")+
			` && parley.peers()[0].pc?.connectionState === 'connected' && !parley.sfu().publishing`, switchTimeout)
	}
	took = time.Since(left)
	gaps = stopGaps(t, pages, "A", "B")
	expectRemoteVideo(t, pages["A"], "A back in mesh", []string{"B"}, nil, true)
	expectRemoteVideo(t, pages["B"], "B back in mesh", []string{"A", "A (screen)"}, nil, true)
	expectSources(t, pages["A"], "A back in mesh", map[string]string{"B": "audio:mesh video:mesh"})
	expectSources(t, pages["B"], "B back in mesh", map[string]string{"A": "audio:mesh video:mesh", "A (screen)": "video:mesh"})
	for _, n := range []string{"A", "B"} {
		p := pages[n]
		if s := browsertest.MustEval[map[string]bool](p, `parley.sfu().sending`); slices.Contains(slices.Collect(maps.Values(s)), true) {
			t.Errorf("%s still sends on the SFU in mesh mode: %v", n, s)
		}
		before := browsertest.MustEval[[]float64](p, jsSFUBytes)
		time.Sleep(time.Second)
		after := browsertest.MustEval[[]float64](p, jsSFUBytes)
		// RTCP and padding may trickle; media would be ≥ 10 KB/s.
		if after[0]-before[0] > 2000 || after[1]-before[1] > 2000 {
			t.Errorf("%s: the SFU still carries media in mesh mode: %.0f bytes sent, %.0f received in 1 s", n, after[0]-before[0], after[1]-before[1])
		}
		if st := browsertest.MustEval[string](p, `parley.sfu().state`); st != "connected" {
			t.Errorf("%s: the SFU link (kept as the next pre-flight) is %q", n, st)
		}
	}
	t.Logf("SFU → mesh: settled %v after C's tab closed (mesh_down_delay 2 s); per-page switch times %v; longest frozen tile per page %v",
		took.Round(time.Millisecond), switchTimes(pages, "A", "B"), gaps)
	checkGaps(t, "SFU → mesh", gaps, pages)
}

// sfuSources is what jsTileSources says of tiles that all play from the SFU.
func sfuSources(tiles []string) map[string]string {
	src := map[string]string{}
	for _, tile := range tiles {
		src[tile] = "audio:sfu video:sfu"
		if strings.HasSuffix(tile, " (screen)") {
			src[tile] = "video:sfu"
		}
	}
	return src
}

// waitPreflight waits until every page's SFU link is connected.
func waitPreflight(t *testing.T, pages ...*browsertest.Page) {
	t.Helper()
	for _, p := range pages {
		waitOrDump(t, p, "pre-flight", `parley.sfu()?.state === 'connected'`, browserJoinTimeout)
	}
}

// startGaps starts the frame-gap recording (jsStartGaps) on the named pages.
func startGaps(t testing.TB, pages map[string]*browsertest.Page, names ...string) {
	t.Helper()
	for _, n := range names {
		browsertest.MustEval[bool](pages[n], jsStartGaps)
	}
}

// stopGaps ends the frame-gap recording on the named pages.
func stopGaps(t testing.TB, pages map[string]*browsertest.Page, names ...string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, n := range names {
		out[n] = browsertest.MustEval[map[string]int](pages[n], jsStopGaps)
	}
	return out
}

// checkGaps fails when a tile froze for maxFrozen or never showed a frame,
// and then dumps that page's recording (jsGapsDetail).
func checkGaps(t *testing.T, label string, gaps map[string]map[string]int, pages map[string]*browsertest.Page) {
	t.Helper()
	for page, tiles := range gaps {
		failed := len(tiles) == 0
		if failed {
			t.Errorf("%s: %s recorded no tiles", label, page)
		}
		for tile, ms := range tiles {
			if ms < 0 || time.Duration(ms)*time.Millisecond >= maxFrozen {
				t.Errorf("%s: on %s, tile %q froze for %d ms (limit %v)", label, page, tile, ms, maxFrozen)
				failed = true
			}
		}
		if failed {
			detail, err := browsertest.Eval[string](pages[page], jsGapsDetail)
			t.Logf("%s: %s's recording: %s %v", label, page, detail, err)
		}
	}
}

// switchTimes returns each page's last switch duration (mode message to all tiles moved).
func switchTimes(pages map[string]*browsertest.Page, names ...string) string {
	var parts []string
	for _, n := range names {
		ms, err := browsertest.Eval[float64](pages[n], `parley.switches().at(-1)?.ms ?? -1`)
		if err != nil {
			ms = -1
		}
		parts = append(parts, fmt.Sprintf("%s %.0f ms", n, ms))
	}
	return strings.Join(parts, ", ")
}

// BenchmarkSwitch measures the mesh ⇄ SFU switch in headless Chromium, as
// TestBrowserSwitch does it (mesh_max 2, A and B in a call, C comes and
// goes; 320×180 at 15 fps with audio; no screen share), b.N times each way:
//
//	go test ./e2e -run '^$' -bench BenchmarkSwitch -benchtime 10x
//
// Reported per switch (ms): to-sfu, from C's navigation until A's and B's
// tiles all show SFU frames; sfu-client and mesh-client, from the `mode`
// message until a page's tiles have all moved (the client's own part,
// mean over A and B); and the longest gap between two presented frames of
// any remote tile of A or B across each switch (gap-sfu, gap-mesh). The
// sub-benchmark "no-switch" is the control: the same join and leave in a
// room with mesh_max 3, where nothing switches (its to-sfu is then the time
// until A and B show C), so its gaps are what the machine's load alone
// costs.
func BenchmarkSwitch(b *testing.B) {
	for _, tc := range []struct {
		name    string
		meshMax int
	}{{"switch", 2}, {"no-switch", 3}} {
		b.Run(tc.name, func(b *testing.B) {
			benchSwitch(b, tc.meshMax)
		})
	}
}

func benchSwitch(b *testing.B, meshMax int) {
	ts := testserver.Start(b, func(c *config.Config) {
		c.MeshMax = meshMax
		c.MeshDownDelay = 2 * time.Second
	})
	br := browsertest.New(b)
	room := browserRoom("bench-switch")
	pages := map[string]*browsertest.Page{}
	for _, n := range []string{"A", "B"} {
		pages[n] = br.NewPage(b, browserRoomURL(ts, room, n))
	}
	for _, n := range []string{"A", "B"} {
		pages[n].MustWaitFor(fmt.Sprintf(jsSwitched, "mesh", "mesh", 1, "mesh")+` && parley.sfu()?.state === 'connected'`, 60*time.Second)
	}
	wantMode := "sfu"
	if meshMax > 2 {
		wantMode = "mesh"
	}
	var toSFU, clientSFU, clientMesh, gapSFU, gapMesh []float64
	for i := 0; b.Loop(); i++ {
		startGaps(b, pages, "A", "B")
		start := time.Now()
		c := br.NewPage(b, browserRoomURL(ts, room, "C"))
		var doneAt float64
		for _, n := range []string{"A", "B"} {
			pages[n].MustWaitFor(fmt.Sprintf(jsSwitched, wantMode, wantMode, 2, wantMode)+
				`&& [...document.querySelectorAll('.tile:not([data-self]) video.live')].every((v) => v.getVideoPlaybackQuality().totalVideoFrames > 0)`, 60*time.Second)
			doneAt = max(doneAt, browsertest.MustEval[float64](pages[n], `parley.switches().at(-1)?.doneAt ?? Date.now()`))
		}
		c.MustWaitFor(`document.querySelectorAll('.tile:not([data-self]) video.live').length === 2 &&
		  [...document.querySelectorAll('.tile:not([data-self]) video.live')].every((v) => v.getVideoPlaybackQuality().totalVideoFrames > 0)`, 60*time.Second)
		gaps := stopGaps(b, pages, "A", "B")
		toSFU = append(toSFU, doneAt-float64(start.UnixMilli()))
		gapSFU = append(gapSFU, maxGap(gaps))
		clientSFU = append(clientSFU, lastSwitchMean(b, pages))
		time.Sleep(time.Second) // C's page settles

		startGaps(b, pages, "A", "B")
		_ = c.Close()
		for _, n := range []string{"A", "B"} {
			pages[n].MustWaitFor(fmt.Sprintf(jsSwitched, "mesh", "mesh", 1, "mesh")+
				` && parley.peers()[0].pc?.connectionState === 'connected' && !parley.sfu().publishing`, 60*time.Second)
		}
		time.Sleep(500 * time.Millisecond)
		gaps = stopGaps(b, pages, "A", "B")
		gapMesh = append(gapMesh, maxGap(gaps))
		clientMesh = append(clientMesh, lastSwitchMean(b, pages))
		b.Logf("run %d: to SFU %.0f ms (client part %.0f ms), longest frozen tile %.0f ms; back to mesh: client part %.0f ms, longest frozen tile %.0f ms",
			i+1, toSFU[i], clientSFU[i], gapSFU[i], clientMesh[i], gapMesh[i])
		time.Sleep(time.Second)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(mean(toSFU), "ms-to-sfu")
	b.ReportMetric(mean(clientSFU), "ms-sfu-client")
	b.ReportMetric(mean(clientMesh), "ms-mesh-client")
	b.ReportMetric(mean(gapSFU), "ms-gap-sfu")
	b.ReportMetric(slices.Max(gapSFU), "ms-gap-sfu-max")
	b.ReportMetric(mean(gapMesh), "ms-gap-mesh")
	b.ReportMetric(slices.Max(gapMesh), "ms-gap-mesh-max")
}

// lastSwitchMean is the mean over A and B of their last switch's client
// time (mode message → every tile moved); 0 when nothing ever switched.
func lastSwitchMean(b *testing.B, pages map[string]*browsertest.Page) float64 {
	var sum float64
	for _, n := range []string{"A", "B"} {
		sum += browsertest.MustEval[float64](pages[n], `parley.switches().at(-1)?.ms ?? 0`)
	}
	return sum / 2
}

func maxGap(gaps map[string]map[string]int) float64 {
	m := 0
	for _, tiles := range gaps {
		for _, ms := range tiles {
			m = max(m, ms)
		}
	}
	return float64(m)
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
