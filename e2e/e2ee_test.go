package e2e

// End-to-end encryption in Chromium (docs/e2ee.md): three
// pages of one MLS group see each other's known picture through encrypted
// frames in mesh and SFU mode with one room code, a page whose link lacks
// the invite secret is not admitted and decodes nothing, and the keys
// survive a switch without a commit.

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// e2eeTimeout bounds joining, the key exchange and the first decrypted frames.
const e2eeTimeout = 30 * time.Second

// e2eeBrowser starts Chromium with the solid-colour fake camera.
func e2eeBrowser(t *testing.T) *browsertest.Browser {
	return browsertest.New(t, browsertest.WithFlag("use-file-for-fake-video-capture", writeSolidY4M(t, 320, 180)))
}

// waitKnownPicture waits until p shows every peer in names with the known colour.
func waitKnownPicture(t *testing.T, p *browsertest.Page, label string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(e2eeTimeout)
	var px map[string][]int
	for time.Now().Before(deadline) {
		px = browsertest.MustEval[map[string][]int](p, jsTilePixels)
		ok := true
		for _, n := range names {
			c := px[n]
			if len(c) != 3 || !isKnownColour(c[0], c[1], c[2]) {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: tiles never showed the known picture: pixels %v\nlocks %v\ne2ee %s\npage state: %s", label, px,
		browsertest.MustEval[map[string]string](p, jsE2EEState), e2eeDump(p), pageState(p))
}

// waitLocks waits until p's locks for names all say state.
func waitLocks(t *testing.T, p *browsertest.Page, label, state string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(e2eeTimeout)
	var got map[string]string
	for time.Now().Before(deadline) {
		got = browsertest.MustEval[map[string]string](p, jsE2EEState)
		ok := true
		for _, n := range names {
			if got[n] != state {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: locks %v, want %q for %v\ne2ee %s", label, got, state, names, e2eeDump(p))
}

func e2eeDump(p *browsertest.Page) string {
	s, err := browsertest.Eval[string](p, `JSON.stringify(parley.e2ee())`)
	if err != nil {
		return err.Error()
	}
	return s
}

// expectDecrypted waits until p encrypted frames and decrypted frames from
// every other page (by id); the worker reports its counters every second.
func expectDecrypted(t *testing.T, p *browsertest.Page, label string, ids map[string]string) {
	t.Helper()
	deadline := time.Now().Add(e2eeTimeout)
	var got map[string]float64
	for time.Now().Before(deadline) {
		got = browsertest.MustEval[map[string]float64](p, jsE2EEDecrypted)
		ok := got["encrypted"] > 0
		for _, id := range ids {
			ok = ok && got[id] > 0
		}
		if ok {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Errorf("%s: encrypted or decrypted frames missing (want from %v): %v", label, ids, got)
}

// openPages opens one page per name in room with the fragment.
func openPages(t *testing.T, b *browsertest.Browser, ts *testserver.Server, room, fragment string, names ...string) map[string]*browsertest.Page {
	pages := map[string]*browsertest.Page{}
	for _, n := range names {
		pages[n] = b.NewPage(t, e2eeRoomURL(ts, room, n, fragment))
	}
	for _, n := range names {
		waitOrDump(t, pages[n], n+" in call", `parley.state === 'in-call' && !!parley.id`, e2eeTimeout)
	}
	return pages
}

// others returns names without n.
func others(names []string, n string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(x string) bool { return x == n })
}

// TestBrowserE2EE: three pages with the invite link's secret decode each
// other's known picture, through decrypted frames, in a mesh and through
// the SFU, and every lock says verified.
func TestBrowserE2EE(t *testing.T) {
	b := e2eeBrowser(t)
	for _, mode := range []string{"mesh", "sfu"} {
		t.Run(mode, func(t *testing.T) {
			ts := testserver.Start(t, func(c *config.Config) {
				if mode == "sfu" {
					c.MeshMax = 2
				}
			})
			names := []string{"A", "B", "C"}
			pages := openPages(t, b, ts, browserRoom("e2ee-"+mode), roomSecret(), names...)
			ids := map[string]string{}
			for _, n := range names {
				ids[n] = pageID(t, pages[n])
			}
			if mode == "sfu" {
				for _, n := range names {
					waitOrDump(t, pages[n], n+" in SFU mode", `parley.mode === 'sfu'`, e2eeTimeout)
				}
			}
			for _, n := range names {
				waitKnownPicture(t, pages[n], n, others(names, n)...)
				waitLocks(t, pages[n], n, "verified", others(names, n)...)
				want := maps.Clone(ids)
				delete(want, n)
				expectDecrypted(t, pages[n], n, want)
			}
			expectOneRoomCode(t, pages, names...)
			alarm := decryptAlarm(t, ts, pages)
			// C leaves: A and B switch to fresh keys (a new epoch in the
			// KID) and keep decoding each other.
			kidA := browsertest.MustEval[float64](pages["A"], `parley.e2ee().kid`)
			pages["C"].Close()
			waitOrDump(t, pages["A"], "A's fresh key", fmt.Sprintf(`parley.e2ee().kid !== %v`, kidA), e2eeTimeout)
			time.Sleep(3 * time.Second) // past the switch delay and the grace window
			for _, n := range []string{"A", "B"} {
				other := ids[map[string]string{"A": "B", "B": "A"}[n]]
				d1 := browsertest.MustEval[map[string]float64](pages[n], jsE2EEDecrypted)
				time.Sleep(1500 * time.Millisecond)
				d2 := browsertest.MustEval[map[string]float64](pages[n], jsE2EEDecrypted)
				if d2[other] <= d1[other] {
					t.Errorf("%s stopped decrypting after C left: %v → %v\ne2ee %s", n, d1, d2, e2eeDump(pages[n]))
				}
			}
			waitKnownPicture(t, pages["A"], "A after C left", "B")
			for _, n := range []string{"A", "B"} {
				pages[n].Close()
			}
			if alarm != "" {
				// The alert docs/install.md recommends must stay quiet
				// on a healthy call.
				t.Errorf("a healthy call counted decryption failures after a key: %s", alarm)
			}
		})
	}
}

// decryptAlarm waits until the server has counted a health report from
// each page (the client sends one every 15 s once it has decrypted
// something, web/js/call.js STATS_INTERVAL_MS) and says whether the call so
// far, from the frames before the first keys to the switch to the SFU,
// counted decryption failures after a key: "" when none (the alert
// docs/install.md recommends stays quiet on this healthy call), else what
// was counted, with each page's E2EE state in the log.
func decryptAlarm(t *testing.T, ts *testserver.Server, pages map[string]*browsertest.Page) string {
	t.Helper()
	n := len(pages)
	var fams map[string]*dto.MetricFamily
	start := time.Now()
	for deadline := start.Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		rec := httptest.NewRecorder()
		ts.Srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		if fams, err = parser.TextToMetricFamilies(rec.Body); err != nil {
			t.Fatalf("the metrics page does not parse: %v", err)
		}
		got, _ := sample(fams, "parley_websocket_messages_total", "type", "stats")
		if got >= float64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v health reports counted after 20 s, want %d", got, n)
		}
	}
	decrypted, _ := sample(fams, "parley_e2ee_decrypted_frames_total")
	beforeKey, _ := sample(fams, "parley_e2ee_failures_before_key_total")
	t.Logf("reported so far (after waiting %v for the reports): %v frames decrypted, %v failed before their key arrived (normal)", time.Since(start).Round(100*time.Millisecond), decrypted, beforeKey)
	if decrypted == 0 {
		t.Error("the health reports counted no decrypted frame")
	}
	var alarm []string
	for _, name := range []string{"parley_e2ee_decrypt_failures_total", "parley_e2ee_rooms_with_decrypt_failures"} {
		if v, ok := sample(fams, name); !ok || v != 0 {
			alarm = append(alarm, fmt.Sprintf("%s = %v (present: %v) in a healthy call of %d, want 0", name, v, ok, n))
		}
	}
	if len(alarm) == 0 {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(pages)) {
		t.Logf("%s's e2ee: %s", name, e2eeDump(pages[name]))
	}
	return strings.Join(alarm, "; ")
}

// expectOneRoomCode waits until every page is at the same MLS epoch and
// shows the same room code (5 groups of 5 digits).
func expectOneRoomCode(t *testing.T, pages map[string]*browsertest.Page, names ...string) {
	t.Helper()
	deadline := time.Now().Add(e2eeTimeout)
	var codes map[string]string
	for time.Now().Before(deadline) {
		codes = map[string]string{}
		for _, n := range names {
			codes[n] = browsertest.MustEval[string](pages[n], `(() => { const e = parley.e2ee(); return e.epoch + ' ' + e.roomCode; })()`)
		}
		same := true
		for _, n := range names {
			same = same && codes[n] == codes[names[0]] && regexp.MustCompile(`^\d+ (\d{5} ){4}\d{5}$`).MatchString(codes[n])
		}
		if same {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Errorf("room codes differ or are missing: %v", codes)
}

// TestBrowserE2EENotAdmitted: A and B joined with the invite link; C's
// link lacks the secret, so it cannot prove it has the link. A and B show
// C as not admitted (lock and banner) and still see each other; C is in
// no group and decodes nothing.
func TestBrowserE2EENotAdmitted(t *testing.T) {
	ts := testserver.Start(t, nil)
	b := e2eeBrowser(t)
	room := browserRoom("e2ee-admit")
	secret := roomSecret()
	pages := openPages(t, b, ts, room, secret, "A", "B")
	waitLocks(t, pages["A"], "A", "verified", "B")
	pages["C"] = b.NewPage(t, e2eeRoomURL(ts, room, "C", ""))
	waitOrDump(t, pages["C"], "C in call", `parley.state === 'in-call' && !!parley.id`, e2eeTimeout)

	for _, n := range []string{"A", "B"} {
		waitLocks(t, pages[n], n, "refused", "C")
		waitOrDump(t, pages[n], n+" says C is not admitted", `(() => {
		  const b = document.querySelector('#banner');
		  return !b.hidden && b.dataset.kind === 'error' && /not admitted/.test(b.textContent) && /\bC\b/.test(b.textContent);
		})()`, e2eeTimeout)
	}
	waitKnownPicture(t, pages["A"], "A", "B")
	waitKnownPicture(t, pages["B"], "B", "A")
	time.Sleep(3 * time.Second) // C's frames and KeyPackage retries keep coming
	if m := browsertest.MustEval[bool](pages["C"], `parley.e2ee().member`); m {
		t.Errorf("C became a member of the group without the secret: %s", e2eeDump(pages["C"]))
	}
	waitLocks(t, pages["C"], "C", "waiting", "A", "B")
	px := browsertest.MustEval[map[string][]int](pages["C"], jsTilePixels)
	for _, n := range []string{"A", "B"} {
		if c := px[n]; len(c) == 3 && isKnownColour(c[0], c[1], c[2]) {
			t.Errorf("C shows %s's picture: %v", n, c)
		}
	}
	got := browsertest.MustEval[map[string]float64](pages["C"], jsE2EEDecrypted)
	for _, n := range []string{"A", "B"} {
		if d := got[pageID(t, pages[n])]; d != 0 {
			t.Errorf("C decrypted %v frames from %s", d, n)
		}
	}
	for _, n := range []string{"A", "B"} {
		if e := browsertest.MustEval[float64](pages[n], `parley.e2ee().epoch`); e != 1 {
			t.Errorf("%s is at epoch %v; want 1 (only B's add, never C's)", n, e)
		}
	}
}

// TestBrowserE2EESwitch: A and B in a mesh (mesh_max 2); C joins, the room
// moves to the SFU, and A and B keep decoding each other with no commit
// but C's (the switch changes no key: the epoch stays at 2).
func TestBrowserE2EESwitch(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 2 })
	b := e2eeBrowser(t)
	room := browserRoom("e2ee-switch")
	secret := roomSecret()
	pages := openPages(t, b, ts, room, secret, "A", "B")
	bID := pageID(t, pages["B"])
	waitKnownPicture(t, pages["A"], "A in mesh", "B")
	waitKnownPicture(t, pages["B"], "B in mesh", "A")

	pages["C"] = b.NewPage(t, e2eeRoomURL(ts, room, "C", secret))
	for _, n := range []string{"A", "B", "C"} {
		if _, err := pages[n].WaitFor(fmt.Sprintf(jsSwitched, "sfu", "sfu", 2, "sfu"), switchTimeout); err != nil {
			t.Fatalf("%s in SFU mode: %v\npage state: %s\ne2ee %s\nsfu %s", n, err, pageState(pages[n]), e2eeDump(pages[n]),
				browsertest.MustEval[string](pages[n], `JSON.stringify({ ...parley.sfu(), pc: undefined })`))
		}
	}
	waitKnownPicture(t, pages["A"], "A in SFU", "B", "C")
	waitKnownPicture(t, pages["B"], "B in SFU", "A", "C")
	expectSources(t, pages["A"], "A in SFU", map[string]string{"B": "audio:sfu video:sfu", "C": "audio:sfu video:sfu"})
	for _, n := range []string{"A", "B", "C"} {
		if e := browsertest.MustEval[float64](pages[n], `parley.e2ee().epoch`); e != 2 {
			t.Errorf("%s is at epoch %v after the switch; want 2 (B's add, C's add, nothing for the switch)\ne2ee %s", n, e, e2eeDump(pages[n]))
		}
	}
	expectOneRoomCode(t, pages, "A", "B", "C")
	// Frames keep decrypting on the SFU path.
	d1 := browsertest.MustEval[map[string]float64](pages["A"], jsE2EEDecrypted)
	time.Sleep(time.Second)
	d2 := browsertest.MustEval[map[string]float64](pages["A"], jsE2EEDecrypted)
	if d2[bID] <= d1[bID] {
		t.Errorf("A stopped decrypting B after the switch: %v → %v", d1[bID], d2[bID])
	}
}

// jsFrameCryptoBench runs SFrame protect + unprotect in a Worker of the page
// for frames of %d bytes and returns [encMedian, encP99, decMedian, decP99]
// in ms per frame. A page that is not cross-origin isolated gets a 0.1 ms
// timer, so each sample is the mean of a batch of 10 frames (100 batches).
const jsFrameCryptoBench = `(async () => {
  const src = "import { SFrameKey, protectFrame, unprotectFrame, parseFrame } from '" + location.origin + "/js/sframe.js';" +
    "onmessage = async ({ data: size }) => {" +
    "  const key = await SFrameKey.derive(crypto.getRandomValues(new Uint8Array(16)), 0x1234560001);" +
    "  const frame = crypto.getRandomValues(new Uint8Array(size)); frame[0] |= 1;" +
    "  const enc = [], dec = [];" +
    "  let ctr = 0n;" +
    "  for (let i = 0; i < 100; i++) {" +
    "    const outs = []; let t = performance.now();" +
    "    for (let j = 0; j < 10; j++) outs.push(await protectFrame(key, ctr++, frame, 3));" +
    "    enc.push((performance.now() - t) / 10); t = performance.now();" +
    "    for (const out of outs) await unprotectFrame(key, out, 3, parseFrame(out));" +
    "    dec.push((performance.now() - t) / 10);" +
    "  }" +
    "  const q = (l, p) => l.sort((a, b) => a - b)[Math.min(l.length - 1, Math.floor(p * l.length))];" +
    "  postMessage([q(enc, .5), q(enc, .99), q(dec, .5), q(dec, .99)]);" +
    "};";
  const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module' });
  const r = await new Promise((res, rej) => { w.onmessage = (e) => res(e.data); w.onerror = (e) => rej(new Error(e.message)); w.postMessage(%d); });
  w.terminate();
  return r;
})()`

// BenchmarkE2EEFrameCrypto measures SFrame encryption and decryption of one
// video frame in a Chromium worker, for the average frame of 720p30 (VP8 at
// 2.5 Mbit/s ≈ 10.4 kB) and 360p30 (800 kbit/s ≈ 3.3 kB), and reads the live
// worker's own timings from a 640×360 call. Figures for docs/benchmarks.md.
func BenchmarkE2EEFrameCrypto(b *testing.B) {
	ts := testserver.Start(b, nil)
	br := browsertest.New(b)
	p := br.NewPage(b, ts.URL+"/")
	for _, c := range []struct {
		name string
		size int
	}{{"720p30", 10400}, {"360p30", 3300}} {
		r := browsertest.MustEval[[]float64](p, fmt.Sprintf(jsFrameCryptoBench, c.size))
		b.Logf("%s (%d B frames, 100 batches of 10): encrypt median %.3f ms p99 %.3f ms; decrypt median %.3f ms p99 %.3f ms",
			c.name, c.size, r[0], r[1], r[2], r[3])
	}
	// A live call at the client's normal quality (640×360).
	room := browserRoom("e2ee-bench")
	secret := roomSecret()
	pa := br.NewPage(b, fmt.Sprintf("%s/r/%s?name=A%s", ts.URL, room, secret))
	pb := br.NewPage(b, fmt.Sprintf("%s/r/%s?name=B%s", ts.URL, room, secret))
	for _, pg := range []*browsertest.Page{pa, pb} {
		if _, err := pg.WaitFor(`parley.e2ee()?.timing?.decrypt?.n >= 300`, 60*time.Second); err != nil {
			b.Fatalf("no live timings: %v", err)
		}
	}
	b.Logf("live 640x360 call, worker timings of A: %s", browsertest.MustEval[string](pa, `JSON.stringify(parley.e2ee().timing)`))
}
