package e2e

// Layouts, who is talking, the lobby's help, the notices and the keyboard,
// as a participant sees them in headless Chromium. DOM hooks (web/README.md):
//   .tile[data-layout=stage|strip|grid|pip]   where the Grid (layout.js) put a tile
//   .tile[data-speaking]                      talking now (speaking.js, every mode)
//   .tile .pin (aria-pressed)                 pin to the stage
//   #toasts .toast[data-kind]                 notices (join, leave, hand, share)
//   #media-help, #media-retry                 the lobby's help when a device fails

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsBlockMedia is an init script that makes getUserMedia fail as a browser
// does when the person blocked the camera and microphone, until a test sets
// window.__allowMedia = true.
const jsBlockMedia = `(() => {
  const md = navigator.mediaDevices;
  const real = md.getUserMedia.bind(md);
  window.__allowMedia = false;
  md.getUserMedia = (c) => window.__allowMedia ? real(c)
    : Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
})()`

// jsClick presses a button from script (element.click(): the same events
// as a mouse click, without waiting for the compositor, which a loaded
// machine makes slow). Screen sharing needs a real click (Page.Click).
func jsClick(t *testing.T, p *browsertest.Page, sel string) {
	t.Helper()
	browsertest.MustEval[bool](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) throw new Error('no ' + %q); e.click(); return true; })()`, sel, sel))
}

// openLobby opens room's lobby (low-resolution capture) without joining:
// a page loaded while the machine is quiet, to join later with
// joinFromLobby (loading a page beside a running call can take longer than
// the harness waits on a loaded 2-core machine).
func openLobby(t *testing.T, b *browsertest.Browser, ts *testserver.Server, room string, opts ...browsertest.PageOption) *browsertest.Page {
	t.Helper()
	p := b.NewPage(t, fmt.Sprintf("%s/r/%s?quality=low", ts.URL, room), opts...)
	p.MustWaitFor(`parley.state === 'lobby' && !!document.querySelector('#display-name')`, browserJoinTimeout)
	return p
}

// joinFromLobby types name into an open lobby and presses Join.
func joinFromLobby(t *testing.T, p *browsertest.Page, name string) {
	t.Helper()
	browsertest.MustEval[bool](p, fmt.Sprintf(`(document.querySelector('#display-name').value = %q, true)`, name))
	jsClick(t, p, "#join")
}

// pickLayout chooses a layout through the layout picker, as a person does.
func pickLayout(t *testing.T, p *browsertest.Page, mode string) {
	t.Helper()
	jsClick(t, p, "#layout-toggle")
	p.MustWaitFor(`!document.querySelector('#layouts').hidden`, browserJoinTimeout)
	jsClick(t, p, fmt.Sprintf(`#layouts .layout-pick[data-layout=%q]`, mode))
	p.MustWaitFor(fmt.Sprintf(`document.querySelector('#grid').dataset.layout === %q && document.querySelector('#layouts').hidden`, mode), browserJoinTimeout)
}

// jsRectShare is the share of the viewport a tile's video covers (0..1).
const jsRectShare = `(() => {
  const v = document.querySelector('.tile[data-peer=%q] video.live') ?? document.querySelector('.tile[data-peer=%q] video');
  if (!v) return 0;
  const r = v.getBoundingClientRect();
  return (r.width * r.height) / (innerWidth * innerHeight);
})()`

// TestBrowserLayout: two people; a screen share takes the stage for the
// other (at least half of a 1280×720 viewport) and the sharer's own page is
// axe-clean, pinning a tile puts it on the stage, a tile goes fullscreen
// and back, our own video is a small picture in picture, the layout chosen
// is remembered, and the keyboard shortcuts and Tab work; joining and
// leaving show notices.
func TestBrowserLayout(t *testing.T) {
	ts := testserver.Start(t, nil)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 720))
	room := browserRoom("layout")
	ada := b.NewPage(t, browserRoomURL(ts, room, "Ada"))
	waitOrDump(t, ada, "Ada", `parley.state === 'in-call' && !document.querySelector('#alone').hidden`, browserJoinTimeout)
	grace := b.NewPage(t, browserRoomURL(ts, room, "Grace"))

	t.Run("a join is announced and the invite prompt goes", func(t *testing.T) {
		waitOrDump(t, ada, "Ada", `[...document.querySelectorAll('#toasts .toast')].some((e) => e.textContent === 'Grace joined')
		  && document.querySelector('#toasts').getAttribute('aria-live') === 'polite' && document.querySelector('#alone').hidden`, browserJoinTimeout)
	})

	t.Run("two people: our own video is a picture in picture", func(t *testing.T) {
		waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-self]').dataset.layout === 'pip'
		  && document.querySelector('.tile[data-peer="Grace"]').dataset.layout === 'grid'`, browserJoinTimeout)
		self := browsertest.MustEval[float64](ada, `(() => { const r = document.querySelector('.tile[data-self]').getBoundingClientRect(); return r.width * r.height; })()`)
		other := browsertest.MustEval[float64](ada, `(() => { const r = document.querySelector('.tile[data-peer="Grace"]').getBoundingClientRect(); return r.width * r.height; })()`)
		if self*4 > other {
			t.Errorf("our own tile %.0f px² is not small beside the other's %.0f px²", self, other)
		}
	})

	t.Run("a screen share takes the stage for the other", func(t *testing.T) {
		if err := grace.Click("#screen-toggle"); err != nil {
			t.Fatal(err)
		}
		waitOrDump(t, ada, "Ada", fmt.Sprintf(jsTileHasFrames, "Grace (screen)"), browserJoinTimeout)
		waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace (screen)"]').dataset.layout === 'stage'`, browserJoinTimeout)
		share := browsertest.MustEval[float64](ada, fmt.Sprintf(jsRectShare, "Grace (screen)", "Grace (screen)"))
		if share < 0.5 {
			t.Errorf("the shared screen covers %.0f %% of the 1280×720 viewport, want ≥ 50 %%\npage state: %s", share*100, pageState(ada))
		}
		t.Logf("the shared screen covers %.0f %% of the viewport", share*100)
		waitOrDump(t, ada, "Ada", `[...document.querySelectorAll('#toasts .toast')].some((e) => e.textContent === 'Grace is sharing their screen')`, browserJoinTimeout)
	})

	t.Run("axe: the sharer's own page", func(t *testing.T) {
		waitOrDump(t, grace, "Grace", `document.querySelector('.tile[data-self].screen')?.dataset.layout === 'stage'`, browserJoinTimeout)
		expectNoAxeViolations(t, grace, axeSource(t), "the sharer's own page", axeWide)
	})

	t.Run("pinning a tile puts it on the stage; unpinning gives the stage back", func(t *testing.T) {
		jsClick(t, ada, `.tile[data-peer="Grace"] .pin`)
		waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace"]').dataset.layout === 'stage'
		  && document.querySelector('.tile[data-peer="Grace"] .pin').getAttribute('aria-pressed') === 'true'
		  && document.querySelector('.tile[data-peer="Grace (screen)"]').dataset.layout === 'strip'`, browserJoinTimeout)
		if share := browsertest.MustEval[float64](ada, fmt.Sprintf(jsRectShare, "Grace", "Grace")); share < 0.5 {
			t.Errorf("the pinned tile covers %.0f %% of the viewport, want ≥ 50 %%", share*100)
		}
		jsClick(t, ada, `.tile[data-peer="Grace"] .pin`)
		waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace (screen)"]').dataset.layout === 'stage'`, browserJoinTimeout)
	})

	t.Run("the grid layout is chosen and remembered", func(t *testing.T) {
		pickLayout(t, ada, "grid")
		waitOrDump(t, ada, "Ada", `[...document.querySelectorAll('.tile:not([hidden])')].every((e) => e.dataset.layout === 'grid')
		  && localStorage.getItem('parley.layout') === 'grid'`, browserJoinTimeout)
		pickLayout(t, ada, "stage")
	})

	t.Run("fullscreen: a tile's button makes it the fullscreen element, Escape leaves", func(t *testing.T) {
		tile := `.tile[data-peer="Grace (screen)"]`
		if err := ada.Click(tile + " button.fullscreen"); err != nil { // a real click: fullscreen needs a user gesture
			t.Fatal(err)
		}
		waitOrDump(t, ada, "Ada", fmt.Sprintf(`document.fullscreenElement === document.querySelector(%q)`, tile), browserJoinTimeout)
		press(t, ada, kb.Escape)
		waitOrDump(t, ada, "Ada", `document.fullscreenElement === null`, browserJoinTimeout)
	})

	t.Run("keyboard: the shortcuts do what their buttons do; Tab reaches a tile's buttons with a focus ring", func(t *testing.T) {
		keyboard(t, ada)
	})

	t.Run("a leave is announced", func(t *testing.T) {
		_ = grace.Close()
		waitOrDump(t, ada, "Ada", `[...document.querySelectorAll('#toasts .toast')].some((e) => e.textContent === 'Grace left')`, browserJoinTimeout)
	})
}

// press sends keys to p as a person types them (CDP key events: the focus
// moves on Tab, shortcuts fire, Escape closes a dialog or fullscreen).
func press(t *testing.T, p *browsertest.Page, keys string) {
	t.Helper()
	if err := chromedp.Do(p.Context(), chromedp.KeyEvent(keys)); err != nil {
		t.Fatal(err)
	}
}

// jsFocusRing describes the focused element when it is one of a tile's
// buttons showing a focus ring (:focus-visible with a solid outline at
// least 2 px wide, and the buttons shown), or "".
const jsFocusRing = `(() => {
  const e = document.activeElement;
  if (!e?.closest('.tile .tile-actions')) return '';
  const s = getComputedStyle(e);
  const shown = getComputedStyle(e.closest('.tile-actions')).opacity === '1';
  return e.matches(':focus-visible') && s.outlineStyle === 'solid' && parseFloat(s.outlineWidth) >= 2 && shown
    ? e.getAttribute('aria-label') + ': ' + s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor : '';
})()`

// keyboard presses the call's single-key shortcuts on p (M, V, C, H, L, ?)
// and checks that each did what its button does, then tabs from the header
// to the first tile's own buttons and presses one with Enter.
func keyboard(t *testing.T, p *browsertest.Page) {
	t.Helper()
	blur := func() { browsertest.MustEval[bool](p, `(document.activeElement?.blur(), true)`) }
	blur()
	for _, c := range []struct{ key, cond string }{
		{"m", `document.querySelector('#mic-toggle').getAttribute('aria-pressed') === 'false'`},
		{"m", `document.querySelector('#mic-toggle').getAttribute('aria-pressed') === 'true'`},
		{"v", `document.querySelector('#cam-toggle').getAttribute('aria-pressed') === 'false'`},
		{"v", `document.querySelector('#cam-toggle').getAttribute('aria-pressed') === 'true'`},
		{"h", `document.querySelector('#hand-toggle').getAttribute('aria-pressed') === 'true'`},
		{"h", `document.querySelector('#hand-toggle').getAttribute('aria-pressed') === 'false'`},
		{"l", `document.querySelector('#grid').dataset.layout === 'speaker'`},
		{"l", `document.querySelector('#grid').dataset.layout === 'grid'`},
		{"l", `document.querySelector('#grid').dataset.layout === 'stage'`},
		{"c", `!document.querySelector('#side').hidden && document.querySelector('#chat-toggle').getAttribute('aria-expanded') === 'true'`},
		{"c", `document.querySelector('#side').hidden && document.querySelector('#chat-toggle').getAttribute('aria-expanded') === 'false'`},
		{"?", `document.querySelector('#shortcuts-dialog').open`},
		{kb.Escape, `!document.querySelector('#shortcuts-dialog').open`},
	} {
		press(t, p, c.key)
		waitOrDump(t, p, fmt.Sprintf("after the key %q", c.key), c.cond, browserJoinTimeout)
		blur() // the chat puts the focus in its message box, where keys are typing
	}
	browsertest.MustEval[bool](p, `(document.querySelector('#help-toggle').focus(), true)`)
	inTile := false
	for i := 0; i < 12 && !inTile; i++ {
		press(t, p, kb.Tab)
		inTile = browsertest.MustEval[bool](p, `!!document.activeElement?.closest('.tile .tile-actions')`)
	}
	if !inTile {
		t.Fatalf("Tab from the header never reached a tile's buttons; the focus is on %s\npage state: %s",
			browsertest.MustEval[string](p, `document.activeElement?.outerHTML.slice(0, 120) ?? 'nothing'`), pageState(p))
	}
	// The buttons fade in (a short transition) once the focus is in the tile.
	waitOrDump(t, p, "a tile's focused button", jsFocusRing, browserJoinTimeout)
	t.Logf("focus ring: %s", browsertest.MustEval[string](p, jsFocusRing))
	// Enter presses the focused tile button (a pin, or our own picture's move).
	before := browsertest.MustEval[string](p, `document.activeElement.closest('.tile').dataset.layout + (document.activeElement.getAttribute('aria-pressed') ?? '')`)
	press(t, p, "\r")
	waitOrDump(t, p, "Enter on a tile button", fmt.Sprintf(`document.activeElement.closest('.tile').dataset.layout + (document.activeElement.getAttribute('aria-pressed') ?? '') !== %q`, before), browserJoinTimeout)
	press(t, p, "\r")
	waitOrDump(t, p, "Enter again", fmt.Sprintf(`document.activeElement.closest('.tile').dataset.layout + (document.activeElement.getAttribute('aria-pressed') ?? '') === %q`, before), browserJoinTimeout)
}

// TestBrowserSpeaking: the speaking indicator lights on the tile of the
// page whose fake microphone beeps, and not on a muted one, in mesh and in
// SFU mode; the muted page whose microphone beeps on is told it is muted;
// in mesh mode, the speaker layout follows whoever talks.
func TestBrowserSpeaking(t *testing.T) {
	for _, mode := range []string{"mesh", "sfu"} {
		t.Run(mode, func(t *testing.T) {
			ts := testserver.Start(t, func(c *config.Config) {
				if mode == "sfu" {
					c.MeshMax = 1
				}
			})
			b := browsertest.New(t)
			room := browserRoom("speak-" + mode)
			ada := b.NewPage(t, browserRoomURL(ts, room, "Ada"))
			waitOrDump(t, ada, "Ada", `parley.state === 'in-call'`, browserJoinTimeout)
			quiet := b.NewPage(t, browserRoomURL(ts, room, "Quiet"))
			waitOrDump(t, quiet, "Quiet", `parley.state === 'in-call'`, browserJoinTimeout)
			// Quiet's fake microphone beeps on while she is muted: she is
			// told so (the notice lasts seconds, so it is caught as it comes).
			browsertest.MustEval[bool](quiet, jsCatchMutedToast)
			jsClick(t, quiet, "#mic-toggle")
			for _, p := range []*browsertest.Page{ada, quiet} {
				waitOrDump(t, p, mode, fmt.Sprintf(`document.querySelector('#mode').dataset.mode === %q`, mode), browserJoinTimeout)
			}
			// Ada sees Quiet muted; Quiet's tile never lights, and Ada's
			// lights for Quiet (her fake microphone beeps).
			waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Quiet"]')?.dataset.mic === 'off'`, browserJoinTimeout)
			browsertest.MustEval[bool](ada, `(() => {
			  window.__lit = false;
			  const tile = document.querySelector('.tile[data-peer="Quiet"]');
			  new MutationObserver(() => { if ('speaking' in tile.dataset) window.__lit = true; })
			    .observe(tile, { attributes: true, attributeFilter: ['data-speaking'] });
			  return true;
			})()`)
			waitOrDump(t, quiet, "Quiet", `'speaking' in (document.querySelector('.tile[data-peer="Ada"]')?.dataset ?? {})`, browserJoinTimeout)
			adaID := browsertest.MustEval[string](ada, `parley.id`)
			waitOrDump(t, quiet, "Quiet", fmt.Sprintf(`document.querySelector('#people li[data-peer-id=%q][data-speaking]') !== null`, adaID), browserJoinTimeout)
			if lit := browsertest.MustEval[bool](ada, `window.__lit || 'speaking' in document.querySelector('.tile[data-peer="Quiet"]').dataset`); lit {
				t.Errorf("the muted participant's tile lit up as talking")
			}
			// Our own tile: Ada's beeping microphone lights her own tile.
			waitOrDump(t, ada, "Ada", `'speaking' in document.querySelector('.tile[data-self]:not(.screen)').dataset`, browserJoinTimeout)
			waitOrDump(t, quiet, "Quiet", `window.__mutedToast?.startsWith('You are muted')`, browserJoinTimeout)
			if mode == "mesh" {
				speakerFollows(t, b, ts, room, ada, quiet)
			}
		})
	}
}

// jsCatchMutedToast records the text of the first "you are muted" notice
// in window.__mutedToast (notices go after seconds).
const jsCatchMutedToast = `(() => {
  const box = document.querySelector('#toasts');
  new MutationObserver(() => {
    const t = box.querySelector('.toast[data-kind="muted"]');
    if (t && !window.__mutedToast) window.__mutedToast = t.textContent;
  }).observe(box, { childList: true });
  return true;
})()`

// speakerFollows: in Ada's speaker layout the stage goes to whoever talks.
// Bea joins after Quiet, so without the speaking detection Quiet (muted,
// first in order) would hold the stage; Bea's beeping microphone takes
// it. Then Bea mutes and Quiet unmutes: the stage follows Quiet.
func speakerFollows(t *testing.T, b *browsertest.Browser, ts *testserver.Server, room string, ada, quiet *browsertest.Page) {
	t.Helper()
	start := time.Now()
	bea := b.NewPage(t, browserRoomURL(ts, room, "Bea"))
	waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Bea"]')?.dataset.state === 'connected'`, browserJoinTimeout)
	t.Logf("Bea joined in %v", time.Since(start).Round(time.Millisecond))
	pickLayout(t, ada, "speaker")
	staged := `document.querySelector('.tile[data-peer=%q]')?.dataset.layout === 'stage'
	  && document.querySelector('.tile[data-peer=%q]')?.dataset.layout === 'strip'`
	d := waitOrDump(t, ada, "Ada's speaker layout", fmt.Sprintf(staged, "Bea", "Quiet"), browserJoinTimeout)
	t.Logf("the stage went to Bea (talking) in %v", d.Round(time.Millisecond))
	jsClick(t, bea, "#mic-toggle")
	jsClick(t, quiet, "#mic-toggle")
	d = waitOrDump(t, ada, "Ada's speaker layout", fmt.Sprintf(staged, "Quiet", "Bea"), browserJoinTimeout)
	t.Logf("the stage followed Quiet in %v", d.Round(time.Millisecond))
	pickLayout(t, ada, "stage")
	_ = bea.Close()
}

// TestBrowserLobbyBlocked: with the camera and microphone blocked, the lobby
// says so (and not "not found"), says how to allow them, and its "Try
// again" starts them once they are allowed.
func TestBrowserLobbyBlocked(t *testing.T) {
	ts := testserver.Start(t, nil)
	b := browsertest.New(t)
	p := b.NewPage(t, ts.URL+"/r/"+browserRoom("blocked"), browsertest.WithInitScript(jsBlockMedia))
	waitOrDump(t, p, "lobby", `!document.querySelector('#media-help').hidden`, browserJoinTimeout)
	text := browsertest.MustEval[string](p, `document.querySelector('#media-help-text').textContent`)
	for _, want := range []string{"blocked the camera and microphone", "In Chrome", "Try again"} {
		if !strings.Contains(text, want) {
			t.Errorf("lobby help %q does not say %q", text, want)
		}
	}
	for _, wrong := range []string{"in the call", "buttons below", "not found"} {
		if strings.Contains(strings.ToLower(text), wrong) {
			t.Errorf("lobby help %q says %q", text, wrong)
		}
	}
	waitOrDump(t, p, "lobby", `document.querySelector('#camera-select').selectedOptions[0]?.textContent === 'Camera blocked'
	  && document.querySelector('#mic-select').selectedOptions[0]?.textContent === 'Microphone blocked'`, browserJoinTimeout)
	// On a small phone the help is long, but Join stays on screen.
	setViewport(t, p, 360, 740)
	waitOrDump(t, p, "lobby at 360×740", `(() => { const r = document.querySelector('#join').getBoundingClientRect();
	  return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; })()`, browserJoinTimeout)
	resetViewport(t, p)
	browsertest.MustEval[bool](p, `(window.__allowMedia = true, true)`)
	jsClick(t, p, "#media-retry")
	waitOrDump(t, p, "lobby", `document.querySelector('#media-help').hidden && document.querySelector('.preview').dataset.cam === 'on'
	  && !document.querySelector('#camera-select').disabled`, browserJoinTimeout)
}
