package e2e

// Chat, file transfer, the remote pointer, reactions and raised hands over
// data channels (docs/datachannels.md), in Chromium, once in a mesh and once through the
// SFU (mesh_max 2), plus a file transfer across a mesh → SFU switch.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// dataTimeout bounds one step (a message, a 20 MiB file) on a busy 2-core machine.
const dataTimeout = 60 * time.Second

// jsInCall is true when the page sees n others, all on path.
const jsInCall = `(() => parley.state === 'in-call' && parley.mode === %q && !parley.switching &&
  parley.peers().length === %d && parley.peers().every((p) => p.path === %q))()`

// jsPeerID returns the id of the participant named %q.
const jsPeerID = `parley.peers().find((p) => p.name === %q)?.id ?? ''`

// jsChatFrom is true when the chat log shows a message from name %q with text %q.
const jsChatFrom = `[...document.querySelectorAll('#chat-log li.msg')].some((li) =>
  li.querySelector('.who')?.textContent === %q && li.querySelector('.text')?.textContent === %q)`

// jsSendChat types text %q into the chat and sends it.
const jsSendChat = `(() => {
  const i = document.getElementById('chat-input');
  i.value = %q;
  document.getElementById('chat-form').requestSubmit();
  return true;
})()`

// jsDownloadSHA reads the Blob behind the latest Save link (the page's CSP
// forbids fetching blob: URLs) and returns its SHA-256.
const jsDownloadSHA = `(async () => {
  const f = parley.files().filter((f) => f.dir === 'in' && f.state === 'done').at(-1);
  const buf = await parley.fileBlob(f.id).arrayBuffer();
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
})()`

// jsWatchReactions records every reaction that appears on a tile.
const jsWatchReactions = `(() => {
  window.__reactions = [];
  new MutationObserver((list) => {
    for (const m of list) for (const n of m.addedNodes) {
      if (n.classList?.contains('reaction')) window.__reactions.push(n.closest('.tile').dataset.peer + ' ' + n.dataset.emoji);
    }
  }).observe(document.getElementById('grid'), { childList: true, subtree: true });
  return true;
})()`

// jsContentAt defines contentAt(tile, x, y): where content position (x, y)
// of a screen tile's video (object-fit contain) is, in page coordinates
// and in the tile's own.
const jsContentAt = `const contentAt = (tile, x, y) => {
  const v = tile.querySelector('video.live') ?? tile.querySelector('video');
  const box = v.getBoundingClientRect();
  const tb = tile.getBoundingClientRect();
  const s = Math.min(box.width / v.videoWidth, box.height / v.videoHeight);
  const w = v.videoWidth * s, h = v.videoHeight * s;
  const px = box.left + (box.width - w) / 2 + x * w, py = box.top + (box.height - h) / 2 + y * h;
  return { v, tb, px, py, tx: px - tb.left, ty: py - tb.top };
};`

// jsPointAt moves the pointer over the screen tile %q at content position
// (%f, %f) and clicks there.
const jsPointAt = `(() => {
  ` + jsContentAt + `
  const { v, px, py } = contentAt(document.querySelector('.tile.screen[data-peer=%q]'), %f, %f);
  for (const type of ['pointermove', 'pointerdown']) {
    v.dispatchEvent(new PointerEvent(type, { clientX: px, clientY: py, bubbles: true }));
  }
  return true;
})()`

// jsDrag drags with the button held over the screen tile %q from content
// position (%f, %f) to (%f, %f), in 12 steps: a freehand stroke.
const jsDrag = `(() => {
  ` + jsContentAt + `
  const tile = document.querySelector('.tile.screen[data-peer=%q]');
  const [x0, y0, x1, y1] = [%f, %f, %f, %f];
  const ev = (type, x, y, buttons) => {
    const { v, px, py } = contentAt(tile, x, y);
    v.dispatchEvent(new PointerEvent(type, { clientX: px, clientY: py, buttons, bubbles: true }));
  };
  ev('pointerdown', x0, y0, 1);
  for (let i = 1; i <= 12; i++) ev('pointermove', x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12, 1);
  ev('pointerup', x1, y1, 0);
  return true;
})()`

// jsInkAlpha returns the opacity (0..255) of the ink canvas on the screen
// tile %s at content position (%f, %f), looking 2 px around it; -1 while
// the tile has no canvas with one stroke.
const jsInkAlpha = `(() => {
  ` + jsContentAt + `
  const tile = document.querySelector(%q);
  const c = tile?.querySelector('canvas.ink[data-strokes="1"]');
  if (!c) return -1;
  const { tb, tx, ty } = contentAt(tile, %f, %f);
  const k = c.width / tb.width;
  const d = c.getContext('2d').getImageData(Math.round((tx - 2) * k), Math.round((ty - 2) * k), Math.round(4 * k) + 1, Math.round(4 * k) + 1).data;
  let max = 0;
  for (let i = 3; i < d.length; i += 4) max = Math.max(max, d[i]);
  return max;
})()`

// jsPointerError returns how far (as a fraction of the tile's width and
// height, the larger) the arrow of participant %q on screen tile %s sits
// from content position (%f, %f); -1 while there is no arrow.
const jsPointerError = `(() => {
  ` + jsContentAt + `
  const tile = document.querySelector(%q);
  const arrow = tile?.querySelector('.pointer[data-from=%q]:not(.faded)');
  if (!arrow) return -1;
  const { tb, px, py } = contentAt(tile, %f, %f);
  const a = arrow.getBoundingClientRect();
  return Math.max(Math.abs(a.left - px) / tb.width, Math.abs(a.top - py) / tb.height);
})()`

// jsTransfer returns the page's transfer of direction %q (the latest), or null.
const jsTransfer = `(parley.files().filter((f) => f.dir === %q).at(-1) ?? null)`

type transferInfo struct {
	ID    string  `json:"id"`
	State string  `json:"state"`
	Error string  `json:"error"`
	Done  float64 `json:"done"`
	Size  float64 `json:"size"`
}

// randomFile writes n random bytes to a temporary file and returns its path and SHA-256.
func randomFile(t *testing.T, name string, n int) (string, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return path, hex.EncodeToString(sum[:])
}

// sendFile picks recipient name in p's "To" list and gives the file input path.
func sendFile(t testing.TB, p *browsertest.Page, to, path string) {
	t.Helper()
	id := browsertest.MustEval[string](p, fmt.Sprintf(jsPeerID, to))
	if id == "" {
		t.Fatalf("no participant %s", to)
	}
	browsertest.MustEval[bool](p, fmt.Sprintf(`(() => { const s = document.getElementById('chat-to'); s.value = %q; return s.value === %q; })()`, id, id))
	if err := chromedp.Do(p.Context(), chromedp.SetUploadFiles("#file-input", []string{path}, chromedp.NodeReady)); err != nil {
		t.Fatalf("choosing the file: %v", err)
	}
}

// TestBrowserDataChannels runs docs/datachannels.md's features in a mesh and in SFU mode.
func TestBrowserDataChannels(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		meshMax int
	}{{"mesh", 6}, {"sfu", 2}} {
		t.Run(tc.mode, func(t *testing.T) { testDataChannels(t, tc.mode, tc.meshMax) })
	}
}

func testDataChannels(t *testing.T, mode string, meshMax int) {
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = meshMax })
	b := browsertest.New(t)
	room := browserRoom("data-" + mode)
	names := []string{"A", "B", "C"}
	pages := map[string]*browsertest.Page{}
	// People arrive one by one, as in a real call (in SFU mode, C's join
	// switches the room).
	for i, n := range names {
		pages[n] = b.NewPage(t, browserRoomURL(ts, room, n))
		if i == 1 {
			waitOrDump(t, pages[n], n+" in the call", fmt.Sprintf(jsInCall, "mesh", 1, "mesh"), switchTimeout)
			waitPreflight(t, pages["A"], pages["B"])
		}
	}
	for _, n := range names {
		waitOrDump(t, pages[n], n+" in the call", fmt.Sprintf(jsInCall, mode, 2, mode), switchTimeout)
	}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = browsertest.MustEval[string](pages[n], `parley.id`)
	}

	// --- chat, with the sender's name; HTML stays text -----------------
	for _, n := range names {
		if err := pages[n].Click("#chat-toggle"); err != nil {
			t.Fatal(err)
		}
	}
	browsertest.MustEval[bool](pages["A"], fmt.Sprintf(jsSendChat, "hello from A"))
	for _, n := range []string{"B", "C"} {
		waitOrDump(t, pages[n], n+" gets A's chat", fmt.Sprintf(jsChatFrom, "A", "hello from A"), dataTimeout)
	}
	const evil = `<img src=x onerror=alert(1)>`
	browsertest.MustEval[bool](pages["A"], fmt.Sprintf(jsSendChat, evil))
	for _, n := range []string{"B", "C"} {
		waitOrDump(t, pages[n], n+" gets the HTML message", fmt.Sprintf(jsChatFrom, "A", evil), dataTimeout)
		if imgs := browsertest.MustEval[int](pages[n], `document.querySelectorAll('#chat-log img, #side img').length`); imgs != 0 {
			t.Errorf("%s: the chat made %d <img> elements from a message", n, imgs)
		}
	}

	// --- a 20 MiB file A → B, accepted, verified -----------------------
	const size = 20 << 20
	path, want := randomFile(t, "twenty.bin", size)
	sendFile(t, pages["A"], "B", path)
	waitOrDump(t, pages["B"], "B is offered the file", `!!document.querySelector('.transfer[data-dir="in"][data-state="offered"] .accept:not([hidden])')`, dataTimeout)
	start := time.Now()
	if err := pages["B"].Click(`.transfer[data-dir="in"][data-state="offered"] .accept`); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, pages["B"], "B receives the file", `!!document.querySelector('.transfer[data-dir="in"][data-state="done"] a.download')`, dataTimeout)
	took := time.Since(start)
	got := browsertest.MustEval[string](pages["B"], jsDownloadSHA)
	if got != want {
		t.Errorf("B's download has SHA-256 %s, want %s", got, want)
	}
	waitOrDump(t, pages["A"], "A sees the transfer done", `parley.files().at(-1)?.state === 'done'`, dataTimeout)
	t.Logf("%s: 20 MiB A → B in %v (%.1f MiB/s, accept to verified download)", mode, took.Round(time.Millisecond), 20/took.Seconds())
	if c := browsertest.MustEval[int](pages["C"], `parley.files().length`); c != 0 {
		t.Errorf("C saw %d transfers meant for B", c)
	}

	// --- a cancel from B stops A's progress ----------------------------
	sendFile(t, pages["A"], "B", path)
	waitOrDump(t, pages["B"], "B is offered the second file", `!!document.querySelector('.transfer[data-dir="in"][data-state="offered"] .accept:not([hidden])')`, dataTimeout)
	if err := pages["B"].Click(`.transfer[data-dir="in"][data-state="offered"] .accept`); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, pages["B"], "B receives some of it", fmt.Sprintf(`(%s)?.done > 0`, fmt.Sprintf(jsTransfer, "in")), dataTimeout)
	if err := pages["B"].Click(`.transfer[data-dir="in"][data-state="receiving"] .cancel`); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, pages["A"], "A sees the cancel", fmt.Sprintf(`(%s)?.state === 'cancelled'`, fmt.Sprintf(jsTransfer, "out")), dataTimeout)
	before := browsertest.MustEval[transferInfo](pages["A"], fmt.Sprintf(jsTransfer, "out"))
	time.Sleep(time.Second)
	after := browsertest.MustEval[transferInfo](pages["A"], fmt.Sprintf(jsTransfer, "out"))
	if after.Done != before.Done || after.Done >= after.Size {
		t.Errorf("A's progress after B's cancel: %.0f then %.0f of %.0f bytes, want it stopped short", before.Done, after.Done, after.Size)
	}
	waitOrDump(t, pages["A"], "A shows the cancel", `document.querySelector('.transfer[data-dir="out"]:last-child')?.dataset.state === 'cancelled'`, dataTimeout)

	// --- the pointer on A's shared screen ------------------------------
	if err := pages["A"].Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"B", "C"} {
		waitOrDump(t, pages[n], n+" sees A's screen", fmt.Sprintf(jsTileHasFrames, "A (screen)"), dataTimeout)
	}
	waitOrDump(t, pages["B"], "B's pointer button", `!document.getElementById('pointer-toggle').disabled`, dataTimeout)
	if err := pages["B"].Click("#pointer-toggle"); err != nil {
		t.Fatal(err)
	}
	browsertest.MustEval[bool](pages["B"], fmt.Sprintf(jsPointAt, "A (screen)", 0.25, 0.75))
	where := map[string]string{"A": `.tile.screen[data-self]`, "C": `.tile.screen[data-peer="A (screen)"]`}
	for _, n := range []string{"A", "C"} {
		cond := fmt.Sprintf(jsPointerError, where[n], ids["B"], 0.25, 0.75)
		waitOrDump(t, pages[n], n+" sees B's pointer", cond+` >= 0`, dataTimeout)
		if e := browsertest.MustEval[float64](pages[n], cond); e < 0 || e > 0.02 || math.IsNaN(e) {
			t.Errorf("%s: B's pointer is %.3f of the tile away from (0.25, 0.75), want ≤ 0.02", n, e)
		}
	}

	// --- B draws a stroke across A's screen: A and C see it there ------
	browsertest.MustEval[bool](pages["B"], fmt.Sprintf(jsDrag, "A (screen)", 0.2, 0.3, 0.7, 0.3))
	for _, n := range []string{"A", "C"} {
		on := fmt.Sprintf(jsInkAlpha, where[n], 0.45, 0.3)
		waitOrDump(t, pages[n], n+" sees B's stroke", on+` > 0`, dataTimeout)
		if off := browsertest.MustEval[int](pages[n], fmt.Sprintf(jsInkAlpha, where[n], 0.45, 0.7)); off != 0 {
			t.Errorf("%s: ink where B drew nothing (0.45, 0.7): alpha %d", n, off)
		}
	}

	// --- 🎉 from C shows on C's tile for A and B -----------------------
	for _, n := range []string{"A", "B"} {
		browsertest.MustEval[bool](pages[n], jsWatchReactions)
	}
	if err := pages["C"].Click("#react-toggle"); err != nil {
		t.Fatal(err)
	}
	if err := pages["C"].Click(`#reactions .react[data-emoji="🎉"]`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "B"} {
		waitOrDump(t, pages[n], n+" sees C's 🎉", `window.__reactions.includes('C 🎉')`, dataTimeout)
	}

	// --- A raises a hand: everyone sees it -----------------------------
	if err := pages["A"].Click("#hand-toggle"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"B", "C"} {
		waitOrDump(t, pages[n], n+" sees A's hand", fmt.Sprintf(`document.querySelector('.tile[data-peer="A"]:not(.screen)')?.dataset.hand === '1' &&
			document.querySelector('#people li[data-hand="1"] .name')?.textContent === 'A' && document.querySelector('#people li')?.dataset.peerId === %q`, ids["A"]), dataTimeout)
	}
	waitOrDump(t, pages["A"], "A sees its own hand", `document.querySelector('.tile.self:not(.screen)')?.dataset.hand === '1'`, dataTimeout)
}

// TestBrowserFileAcrossSwitch: A sends B a file in a mesh; C joins while it
// is under way (mesh_max 2), so the room moves to the SFU. The transfer
// either completes with the right hash or fails with a visible error.
func TestBrowserFileAcrossSwitch(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 2 })
	b := browsertest.New(t)
	room := browserRoom("data-switch")
	pages := map[string]*browsertest.Page{}
	for _, n := range []string{"A", "B"} {
		pages[n] = b.NewPage(t, browserRoomURL(ts, room, n))
	}
	for _, n := range []string{"A", "B"} {
		waitOrDump(t, pages[n], n+" in the call", fmt.Sprintf(jsInCall, "mesh", 1, "mesh"), switchTimeout)
	}
	waitPreflight(t, pages["A"], pages["B"])
	const size = 96 << 20
	path, want := randomFile(t, "big.bin", size)
	sendFile(t, pages["A"], "B", path)
	waitOrDump(t, pages["B"], "B is offered the file", `!!document.querySelector('.transfer[data-dir="in"][data-state="offered"] .accept:not([hidden])')`, dataTimeout)
	if err := pages["B"].Click(`.transfer[data-dir="in"][data-state="offered"] .accept`); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, pages["B"], "B receives some of it", fmt.Sprintf(`(%s)?.done > 0`, fmt.Sprintf(jsTransfer, "in")), dataTimeout)
	atJoin := browsertest.MustEval[transferInfo](pages["B"], fmt.Sprintf(jsTransfer, "in"))
	pages["C"] = b.NewPage(t, browserRoomURL(ts, room, "C"))
	finished := `(() => { const f = ` + fmt.Sprintf(jsTransfer, "in") + `; return !!f && ['done', 'failed', 'cancelled'].includes(f.state); })()`
	waitOrDump(t, pages["B"], "B's transfer ends", finished, 3*dataTimeout)
	end := browsertest.MustEval[transferInfo](pages["B"], fmt.Sprintf(jsTransfer, "in"))
	t.Logf("B received data-channel messages by path: %v", browsertest.MustEval[map[string]int](pages["B"], `parley.channels()`))
	for _, n := range []string{"A", "B", "C"} {
		waitOrDump(t, pages[n], n+" in SFU mode", fmt.Sprintf(jsInCall, "sfu", 2, "sfu"), switchTimeout)
	}
	switch end.State {
	case "done":
		if got := browsertest.MustEval[string](pages["B"], jsDownloadSHA); got != want {
			t.Errorf("B's download has SHA-256 %s, want %s: a silently corrupt file", got, want)
		}
		t.Logf("the transfer completed across the switch (%.0f of %d bytes were done when C joined)", atJoin.Done, size)
	default:
		shown := browsertest.MustEval[string](pages["B"], `document.querySelector('.transfer[data-dir="in"] .error')?.textContent ?? ''`)
		if shown == "" || end.Error == "" {
			t.Errorf("the transfer ended %s without a visible error (%q)", end.State, shown)
		}
		t.Logf("the transfer failed visibly across the switch: %s", shown)
	}
}

// jsPointerMoves makes B's pointer move n times over A's screen tile, one
// move every 100 ms, and returns when each move was sent (Date-based ms).
const jsPointerMoves = `(async () => {
  const tile = document.querySelector('.tile.screen[data-peer="A (screen)"]');
  const v = tile.querySelector('video.live') ?? tile.querySelector('video');
  const sent = [];
  for (let i = 0; i < %d; i++) {
    const box = v.getBoundingClientRect();
    const x = box.left + box.width * (0.3 + 0.4 * ((i %% 10) / 10));
    v.dispatchEvent(new PointerEvent('pointermove', { clientX: x, clientY: box.top + box.height / 2, bubbles: true }));
    sent.push(performance.timeOrigin + performance.now());
    await new Promise((r) => setTimeout(r, 100));
  }
  return sent;
})()`

// jsPointerSeen returns when A drew each of B's pointer moves (Date-based ms).
const jsPointerSeen = `performance.getEntriesByName('parley:pointer').filter((e) => e.detail.from === %q).map((e) => performance.timeOrigin + e.startTime)`

// BenchmarkDataChannels measures, in a mesh (2 pages) and through the SFU
// (3 pages, mesh_max 2), a 20 MiB file A → B (MiB/s, accept to verified
// download) and the pointer's latency from B's move to A's drawing it
// (median and p95 of 50 moves, 10 per second):
//
//	go test ./e2e -run '^$' -bench BenchmarkDataChannels -benchtime 1x
func BenchmarkDataChannels(b *testing.B) {
	for _, tc := range []struct {
		mode    string
		meshMax int
		pages   []string
	}{{"mesh", 6, []string{"A", "B"}}, {"sfu", 2, []string{"A", "B", "C"}}} {
		b.Run(tc.mode, func(b *testing.B) {
			ts := testserver.Start(b, func(c *config.Config) { c.MeshMax = tc.meshMax })
			br := browsertest.New(b)
			room := browserRoom("bench-data")
			pages := map[string]*browsertest.Page{}
			for _, n := range tc.pages {
				pages[n] = br.NewPage(b, browserRoomURL(ts, room, n))
				if _, err := pages[n].WaitFor(`parley.state === 'in-call'`, switchTimeout); err != nil {
					b.Fatal(err)
				}
				if n == "B" {
					if _, err := pages[n].WaitFor(fmt.Sprintf(jsInCall, "mesh", 1, "mesh")+` && parley.sfu()?.state === 'connected'`, switchTimeout); err != nil {
						b.Fatal(err)
					}
				}
			}
			others := len(tc.pages) - 1
			for _, n := range tc.pages {
				if _, err := pages[n].WaitFor(fmt.Sprintf(jsInCall, tc.mode, others, tc.mode), switchTimeout); err != nil {
					b.Fatal(err)
				}
			}
			bid := browsertest.MustEval[string](pages["B"], `parley.id`)
			var rates []float64
			var lat []float64
			path, _ := benchFile(b, 20<<20)
			if err := pages["A"].Click("#screen-toggle"); err != nil {
				b.Fatal(err)
			}
			if _, err := pages["B"].WaitFor(fmt.Sprintf(jsTileHasFrames, "A (screen)")+` && !document.getElementById('pointer-toggle').disabled`, dataTimeout); err != nil {
				b.Fatal(err)
			}
			if err := pages["B"].Click("#pointer-toggle"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sendFile(b, pages["A"], "B", path)
				if _, err := pages["B"].WaitFor(`!!document.querySelector('.transfer[data-dir="in"][data-state="offered"] .accept:not([hidden])')`, dataTimeout); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := pages["B"].Click(`.transfer[data-dir="in"][data-state="offered"] .accept`); err != nil {
					b.Fatal(err)
				}
				if _, err := pages["B"].WaitFor(fmt.Sprintf(`parley.files().filter((f) => f.dir === 'in' && f.state === 'done').length === %d`, i+1), 5*dataTimeout); err != nil {
					b.Fatal(err)
				}
				rates = append(rates, 20/time.Since(start).Seconds())

				before := browsertest.MustEval[[]float64](pages["A"], fmt.Sprintf(jsPointerSeen, bid))
				sent := browsertest.MustEval[[]float64](pages["B"], fmt.Sprintf(jsPointerMoves, 50))
				time.Sleep(time.Second)
				seen := browsertest.MustEval[[]float64](pages["A"], fmt.Sprintf(jsPointerSeen, bid))[len(before):]
				// Moves are 100 ms apart, far more than any latency: pair each
				// drawing with the latest move sent before it.
				for _, s := range seen {
					best := -1.0
					for _, m := range sent {
						if m <= s+1 {
							best = s - m
						}
					}
					if best >= 0 {
						lat = append(lat, best)
					}
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(mean(rates), "MiB/s")
			if len(lat) > 0 {
				b.ReportMetric(lat[len(lat)/2], "ptr-median-ms")
				b.ReportMetric(lat[min(len(lat)-1, len(lat)*95/100)], "ptr-p95-ms")
				b.ReportMetric(float64(len(lat)), "ptr-samples")
			}
		})
	}
}

// benchFile writes n random bytes to a temporary file.
func benchFile(b *testing.B, n int) (string, string) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench.bin")
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(buf)
	return path, hex.EncodeToString(sum[:])
}
