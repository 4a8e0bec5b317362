package e2e

// docs/benchmarks.md's "Seven tabs in one browser": seven tabs in one room end
// up in SFU mode and all see and hear each other, then go back to a mesh
// when four leave. A measurement, not a test (seven pages starve two cores,
// so nothing here belongs in make test); it fails only when the scenario
// does not happen at all.

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// sevenTabsWait bounds each step of BenchmarkSevenTabs: on a starved
// machine a page may take a minute to bring up another connection.
const sevenTabsWait = 3 * time.Minute

// jsAudioBytes maps each inbound audio stream of the page (its SFU and mesh
// connections) to the bytes received so far.
const jsAudioBytes = `(async () => {
  const out = {};
  const pcs = [parley.sfu()?.pc, ...parley.peers().map((p) => p.pc)].filter(Boolean);
  for (const [i, pc] of pcs.entries()) (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') out[i + ':' + r.ssrc] = r.bytesReceived || 0;
  });
  return out;
})()`

// BenchmarkSevenTabs opens seven pages (E2EE on, with the room secret; fake
// camera and microphone at 5 fps, low quality) one after another in a room
// with mesh_max 4 and mesh_down 3, so the fifth join switches the room to
// the SFU; when all seven see and hear each other, four close and the last
// three go back to a mesh:
//
//	go test ./e2e -run '^$' -bench BenchmarkSevenTabs -benchtime 1x -timeout 20m
//
// mesh_max is 4, not the default 6, because a six-page mesh is 30 encoders
// and 30 decoders in one browser, more than two cores carry while a seventh
// page joins (docs/benchmarks.md). Reported: s-to-7-sfu (first tab opened →
// all seven in SFU mode with every tile moved), s-to-mesh (four tabs closed
// → the three back in mesh), and the longest frozen tile, in ms, across the
// switch to the SFU (the fifth join) and back.
func BenchmarkSevenTabs(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sevenTabs(b)
	}
}

func sevenTabs(b *testing.B) {
	b.StopTimer()
	ts := testserver.Start(b, func(c *config.Config) {
		c.MeshMax, c.MeshDown, c.MeshDownDelay = 4, 3, 3*time.Second
	})
	br := browsertest.New(b, browsertest.WithFlag("use-fake-device-for-media-stream", "fps=5"))
	room, secret := browserRoom("seven"), roomSecret()
	names := []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7"}
	pages := map[string]*browsertest.Page{}
	start := time.Now()
	var toSFU map[string]map[string]int
	for i, n := range names {
		if i == 4 { // this join switches the room: watch the tiles of those in it
			startGaps(b, pages, names[:4]...)
		}
		pages[n] = br.NewPage(b, e2eeRoomURL(ts, room, n, secret))
		for _, m := range names[:i+1] {
			for _, o := range others(names[:i+1], m) {
				waitOrDump(b, pages[m], m+" sees "+o, fmt.Sprintf(jsTileHasFrames, o), sevenTabsWait)
			}
		}
		if i == 4 {
			for _, m := range names[:5] {
				waitOrDump(b, pages[m], m+" in SFU mode", fmt.Sprintf(jsSwitched, "sfu", "sfu", 4, "sfu"), sevenTabsWait)
			}
			toSFU = stopGaps(b, pages, names[:4]...)
		}
		b.Logf("%d tabs: every tile decodes, %v after the first tab opened (%s)", i+1, time.Since(start).Round(time.Millisecond), loadAvg())
	}
	for _, n := range names {
		waitOrDump(b, pages[n], n+" in SFU mode", fmt.Sprintf(jsSwitched, "sfu", "sfu", 6, "sfu"), sevenTabsWait)
	}
	inSFU := time.Since(start)
	seeAndHear(b, pages, names, "sfu")

	startGaps(b, pages, names[:3]...)
	left := time.Now()
	for _, n := range names[3:] {
		if err := pages[n].Close(); err != nil {
			b.Fatal(err)
		}
		delete(pages, n)
	}
	for _, n := range names[:3] {
		waitOrDump(b, pages[n], n+" back in mesh", fmt.Sprintf(jsSwitched, "mesh", "mesh", 2, "mesh"), sevenTabsWait)
	}
	inMesh := time.Since(left)
	toMesh := stopGaps(b, pages, names[:3]...)
	seeAndHear(b, pages, names[:3], "mesh")

	b.ReportMetric(inSFU.Seconds(), "s-to-7-sfu")
	b.ReportMetric(inMesh.Seconds(), "s-to-mesh")
	b.ReportMetric(maxGap(toSFU), "ms-frozen-to-sfu")
	b.ReportMetric(maxGap(toMesh), "ms-frozen-to-mesh")
	b.Logf("longest frozen tile per page: to SFU %v; back to mesh %v", toSFU, toMesh)
}

// seeAndHear fails unless, over 5 s, every page decodes new frames on every
// remote tile and receives audio bytes from every other page, with every
// tile playing from path ("sfu" or "mesh").
func seeAndHear(b *testing.B, pages map[string]*browsertest.Page, names []string, path string) {
	b.Helper()
	frames0, audio0 := map[string]map[string]int{}, map[string]map[string]float64{}
	for _, n := range names {
		frames0[n] = browsertest.MustEval[map[string]int](pages[n], jsRemoteFrames)
		audio0[n] = browsertest.MustEval[map[string]float64](pages[n], jsAudioBytes)
	}
	time.Sleep(5 * time.Second)
	for _, n := range names {
		frames := diffFrames(frames0[n], browsertest.MustEval[map[string]int](pages[n], jsRemoteFrames))
		var rising int
		for k, v := range browsertest.MustEval[map[string]float64](pages[n], jsAudioBytes) {
			if v > audio0[n][k] {
				rising++
			}
		}
		sources := browsertest.MustEval[map[string]string](pages[n], jsTileSources)
		rest := others(names, n)
		for _, o := range rest {
			if frames[o] <= 0 {
				b.Errorf("%s in %s mode: no new frame from %s in 5 s (%v)", n, path, o, frames)
			}
			if want := "audio:" + path + " video:" + path; sources[o] != want {
				b.Errorf("%s in %s mode: tile %s plays %q, want %q", n, path, o, sources[o], want)
			}
		}
		if rising < len(rest) {
			b.Errorf("%s in %s mode: audio arriving on %d streams, want %d", n, path, rising, len(rest))
		}
		b.Logf("%s in %s mode: frames in 5 s %v, %d audio streams arriving", n, path, frames, rising)
	}
}
