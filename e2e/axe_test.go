package e2e

// Accessibility: axe-core (pinned in web/package-lock.json, installed by
// scripts/ensure-deps.sh into web/node_modules; never served) injected into
// every page of the client, with the WCAG 2.1 A and AA rules. The test
// asserts no violations at all, of any impact, at 1280×720 and 360×740.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// axePath is axe-core's browser build, relative to this package.
const axePath = "../web/node_modules/axe-core/axe.min.js"

// axeTags are the rule sets checked: WCAG 2.0 and 2.1, levels A and AA.
const axeTags = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']`

// jsNoCamera is an init script for a participant without a camera (sound only).
const jsNoCamera = `(() => {
  const md = navigator.mediaDevices;
  const real = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => c && c.video ? Promise.reject(new DOMException('no camera', 'NotFoundError')) : real(c);
})()`

// axeJoinTimeout bounds joining in the accessibility test, which runs four
// pages on a machine other tests load too.
const axeJoinTimeout = 60 * time.Second

// axeSettle is how long a page gets after a viewport change before axe runs
// (the layout re-runs on resize; tiles move).
const axeSettle = 500 * time.Millisecond

// jsAxeRun runs axe on the document and returns its violations, trimmed to
// what a failure message needs. label-content-name-mismatch (WCAG 2.5.3,
// an accessible name contains the visible label) is marked experimental in
// axe and so is not among the tags' rules: it is turned on by name.
const jsAxeRun = `(async () => {
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('axe did not finish in 4 min')), 240000));
  const r = await Promise.race([timeout, axe.run(document, {
    runOnly: { type: 'tag', values: ` + axeTags + ` },
    rules: { 'label-content-name-mismatch': { enabled: true } },
    resultTypes: ['violations'],
  })]);
  return JSON.stringify(r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    count: v.nodes.length,
  })));
})()`

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Count  int    `json:"count"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axeSource reads axe-core's browser build; a missing one fails the test
// with what to run (never a skip).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axePath)
	if err != nil {
		abs, _ := filepath.Abs(axePath)
		t.Fatalf("axe-core is not installed (%v): run scripts/ensure-deps.sh, or `cd web && npm ci`, to install it at %s", err, abs)
	}
	return string(b)
}

// jsNameMismatches lists the controls whose accessible name does not start
// with their visible label (WCAG 2.5.3, Label in Name: someone who says
// "click Hand" to voice control must reach the button labelled Hand).
// Labels without a letter or digit ("?", "×", an emoji) are skipped, as are
// controls whose name is their content. Punctuation and case are ignored:
// "Chat, 2 unread" starts with the visible "Chat 2".
const jsNameMismatches = `(() => {
  const words = (s) => (s ?? '').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
  const bad = [];
  for (const e of document.querySelectorAll('button, a[href], [role=button], [role=menuitem], [role=link]')) {
    if (!e.checkVisibility({ visibilityProperty: true })) continue;
    const visible = words(e.innerText);
    if (!visible) continue;
    const by = e.getAttribute('aria-labelledby');
    const name = by ? by.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ') : e.getAttribute('aria-label');
    if (name === null) continue;
    if (!(words(name) + ' ').startsWith(visible + ' ')) bad.push(e.outerHTML.slice(0, 90) + ' name "' + name + '" label "' + visible + '"');
  }
  return bad;
})()`

// axeSize is one viewport axe checks a page at.
type axeSize = struct{ w, h int64 }

// Sizes for expectNoAxeViolations: both review sizes, or one of them (a
// state that looks the same at both, checked once to save time: an axe
// run on a call takes seconds on a loaded 2-core machine).
var (
	axeBoth  = reviewSizes
	axeWide  = reviewSizes[:1]
	axePhone = reviewSizes[1:]
)

// expectNoAxeViolations runs axe on p at each size and reports each
// violation with its rule, impact and the elements concerned; it also
// checks that every control's accessible name starts with its visible
// label (jsNameMismatches). The viewport is reset afterwards.
func expectNoAxeViolations(t *testing.T, p *browsertest.Page, src, label string, sizes []axeSize) {
	t.Helper()
	if ok := browsertest.MustEval[bool](p, `typeof axe === 'object'`); !ok {
		browsertest.MustEval[bool](p, src+"\n;true")
	}
	for _, size := range sizes {
		setViewport(t, p, size.w, size.h)
		time.Sleep(axeSettle)
		start := time.Now()
		raw := browsertest.MustEval[string](p, jsAxeRun)
		took := time.Since(start).Round(100 * time.Millisecond)
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			t.Fatalf("%s: axe result: %v", label, err)
		}
		for _, v := range vs {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprintf("    %s\n      %s", n.Target, strings.ReplaceAll(n.Summary, "\n", "\n      ")))
			}
			t.Errorf("%s at %d×%d: %s (%s, %d elements): %s\n%s", label, size.w, size.h, v.ID, v.Impact, v.Count, v.Help, strings.Join(where, "\n"))
		}
		for _, m := range browsertest.MustEval[[]string](p, jsNameMismatches) {
			t.Errorf("%s at %d×%d: the accessible name does not start with the visible label: %s", label, size.w, size.h, m)
		}
		if len(vs) == 0 {
			t.Logf("%s at %d×%d: no axe violations (axe took %v)", label, size.w, size.h, took)
		}
	}
	resetViewport(t, p)
}

// jsOnScreen tells whether the element sel is fully inside the viewport and
// not hidden (a zero-size box, display: none).
const jsOnScreen = `(() => {
  const e = document.querySelector(%q);
  if (!e || !e.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
})()`

// expectOnScreen fails t unless sel is fully visible in p's viewport.
func expectOnScreen(t *testing.T, p *browsertest.Page, label, sel string) {
	t.Helper()
	if !browsertest.MustEval[bool](p, fmt.Sprintf(jsOnScreen, sel)) {
		t.Errorf("%s: %s is not fully on screen\npage state: %s", label, sel, pageState(p))
	}
}

// jsFieldErrorColor is the colour of the landing page's room error, in its card.
const jsFieldErrorColor = `getComputedStyle(document.querySelector('#room-error')).color`

// fieldErrorColor is .field-error's colour in web/css/parley.css (#ff9a9e):
// error text must not render grey like a hint (.card p) inside a card.
const fieldErrorColor = "rgb(255, 154, 158)"

// jsBannerClearsHeader tells whether the call's banner, shown, does not
// overlap the call's header (at 360 px it once covered the room name).
const jsBannerClearsHeader = `(() => {
  const b = document.querySelector('#banner');
  if (b.hidden) return false;
  const r = b.getBoundingClientRect(), h = document.querySelector('.call-header').getBoundingClientRect();
  return r.bottom <= h.top + 0.5 || r.top >= h.bottom - 0.5;
})()`

// TestBrowserAxe checks, at 1280×720 and 360×740 unless said otherwise:
// the landing page (and its error in a card), the 404 page, the lobby
// (camera allowed; blocked; missing), a call alone with the invite prompt,
// a call of two and of four people, a call's banner (at 360 px, where it
// must clear the header), the chat open, a screen shared (the sharer's own
// page is checked in TestBrowserLayout, with two pages: here, with four,
// one axe run on it took 45 s on a loaded machine), the reaction bar, the layout picker, the
// shortcuts dialog, the moderator's menu and removal dialog, and the admin
// page (sign-in, its error, a room). Alongside: the smaller layout fixes
// (Join and React visible at 360 px, the reaction bar closing after a
// pick) and the lobby's microphone meter following the fake microphone.
func TestBrowserAxe(t *testing.T) {
	src := axeSource(t)
	ts := testserver.Start(t, func(c *config.Config) { c.Access.TokenSecret = string(accessTokenSecret) })
	b := browsertest.New(t, browsertest.WithWindowSize(int(reviewSizes[0].w), int(reviewSizes[0].h)))
	room := browserRoom("axe")

	home := b.NewPage(t, ts.URL+"/")
	expectNoAxeViolations(t, home, src, "landing", axeBoth)
	browsertest.MustEval[bool](home, `(() => {
	  const i = document.querySelector('#room-input');
	  i.value = 'no spaces allowed!'; i.form.requestSubmit();
	  return true;
	})()`)
	home.MustWaitFor(`!document.querySelector('#room-error').hidden`, browserJoinTimeout)
	if c := browsertest.MustEval[string](home, jsFieldErrorColor); c != fieldErrorColor {
		t.Errorf("the landing page's error in its card is %s, want the error colour %s", c, fieldErrorColor)
	}
	expectNoAxeViolations(t, home, src, "landing, a bad room name", axePhone)
	_ = home.Close()
	notFound := b.NewPage(t, ts.URL+"/r/not.a.room")
	expectNoAxeViolations(t, notFound, src, "404", axeBoth)
	_ = notFound.Close()

	lobby := b.NewPage(t, ts.URL+"/r/"+room)
	lobby.MustWaitFor(`document.querySelector('#camera-select').options.length > 0 && document.querySelector('.preview').dataset.cam === 'on'`, browserJoinTimeout)
	// The meter follows the fake microphone's beeps (its level is kept
	// between polls: a beep is short).
	waitOrDump(t, lobby, "lobby meter", `(window.__meter = Math.max(window.__meter ?? 0, document.querySelector('#mic-level').value)) > 0.05`, browserJoinTimeout)
	expectNoAxeViolations(t, lobby, src, "lobby", axeBoth)
	setViewport(t, lobby, 360, 740)
	expectOnScreen(t, lobby, "lobby at 360×740", "#join")
	resetViewport(t, lobby)
	_ = lobby.Close()
	blocked := b.NewPage(t, ts.URL+"/r/"+room, browsertest.WithInitScript(jsBlockMedia))
	blocked.MustWaitFor(`!document.querySelector('#media-help').hidden && document.querySelector('#camera-select').disabled`, browserJoinTimeout)
	expectNoAxeViolations(t, blocked, src, "lobby, camera blocked", axeBoth)
	_ = blocked.Close()

	adm := b.NewPage(t, ts.URL+"/admin")
	expectNoAxeViolations(t, adm, src, "admin sign-in", axeBoth)
	adminSignIn(t, adm, "not-the-admin-token")
	waitOrDump(t, adm, "admin", `!document.querySelector('#admin-error').hidden`, adminTimeout)
	expectNoAxeViolations(t, adm, src, "admin, a wrong token", axePhone)

	// Every participant's page loads before any call runs (loading beside a
	// running call can outlast the harness's wait on a loaded machine).
	// The third and fourth have no camera: four pages sending video
	// saturate a 2-core machine, and the page is checked here, not the video.
	later := []*browsertest.Page{
		openLobby(t, b, ts, room, browsertest.WithInitScript(jsNoCamera)),
		openLobby(t, b, ts, room, browsertest.WithInitScript(jsNoCamera)),
	}
	waitOrDump(t, later[0], "lobby without a camera", `!document.querySelector('#media-help').hidden
	  && document.querySelector('#media-help-text').textContent.startsWith('No camera was found')`, browserJoinTimeout)
	expectNoAxeViolations(t, later[0], src, "lobby, no camera", axePhone)
	// Ada is a moderator (a token saying admin): her page has the
	// moderator's menus and removal dialog.
	ada := b.NewPage(t, browserRoomURL(ts, room, "Ada")+"&token="+url.QueryEscape(mintAccess(t, accessTokenSecret, access.Claims{Room: room, Admin: true, RegisteredClaims: expIn(time.Hour)})))
	waitOrDump(t, ada, "Ada", `parley.state === 'in-call' && !document.querySelector('#alone').hidden`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call, alone with the invite prompt", axePhone)
	call := []*browsertest.Page{ada, b.NewPage(t, browserRoomURL(ts, room, "Grace"))}
	grace := call[1]
	// The page is what is checked, not the video: a connected tile is enough
	// (on a loaded machine the first frames can take long).
	waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace"]')?.dataset.state === 'connected'`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 2", axeBoth)
	// The layout picker, the shortcuts dialog and the reaction bar are the
	// same in any call: checked here, where axe is quick (in the
	// four-person call with a share each of these runs took 12–23 s in CI).
	jsClick(t, ada, "#layout-toggle")
	expectNoAxeViolations(t, ada, src, "call of 2, layout picker open", axeBoth)
	jsClick(t, ada, "#layout-toggle")
	jsClick(t, ada, "#help-toggle")
	expectNoAxeViolations(t, ada, src, "call of 2, shortcuts dialog", axeBoth)
	jsClick(t, ada, "#shortcuts-dialog button[type=submit]")
	waitOrDump(t, ada, "shortcuts dialog", `!document.getElementById('shortcuts-dialog').open`, browserJoinTimeout)
	jsClick(t, ada, "#react-toggle")
	expectNoAxeViolations(t, ada, src, "call of 2, reaction bar open", axeBoth)
	// One pick closes the bar (it would otherwise sit over the tiles).
	jsClick(t, ada, "#reactions .react")
	waitOrDump(t, ada, "reaction bar", `document.querySelector('#reactions').hidden
	  && document.querySelector('#react-toggle').getAttribute('aria-expanded') === 'false'`, browserJoinTimeout)

	adminSignIn(t, adm, testserver.AdminToken)
	waitOrDump(t, adm, "admin", fmt.Sprintf(`!!document.querySelector('.room[data-room=%q] tr[data-peer-id]')`, room), adminTimeout)
	expectNoAxeViolations(t, adm, src, "admin with a room", axeBoth)
	_ = adm.Close()

	for i, n := range []string{"Linus", "Barbara"} {
		joinFromLobby(t, later[i], n)
		waitOrDump(t, later[i], n, `parley.state === 'in-call'`, axeJoinTimeout)
		call = append(call, later[i])
	}
	waitOrDump(t, ada, "Ada", `document.querySelectorAll('.tile:not([data-self])[data-state="connected"]').length === 3`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4", axeBoth)

	// Linus has no camera: his call says so in the banner, which on a phone
	// must not cover the header; the React button keeps its label there.
	linus := call[2]
	waitOrDump(t, linus, "Linus", `!document.querySelector('#banner').hidden && document.querySelector('#banner').dataset.kind === 'warn'`, browserJoinTimeout)
	expectNoAxeViolations(t, linus, src, "call with a banner", axePhone)
	setViewport(t, linus, 360, 740)
	time.Sleep(axeSettle)
	if !browsertest.MustEval[bool](linus, jsBannerClearsHeader) {
		t.Errorf("at 360×740 the banner overlaps the call's header\npage state: %s", pageState(linus))
	}
	expectOnScreen(t, linus, "call at 360×740", "#react-toggle .ctl-text")
	resetViewport(t, linus)

	jsClick(t, ada, "#chat-toggle")
	browsertest.MustEval[bool](ada, `(() => {
	  const i = document.querySelector('#chat-input');
	  i.value = 'Hello — https://example.org/notes'; i.form.requestSubmit();
	  return true;
	})()`)
	ada.MustWaitFor(`document.querySelectorAll('#chat-log li').length > 0`, browserJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4, chat open", axeBoth)
	jsClick(t, ada, "#side-close")

	// The moderator's menu on Grace's tile, then the removal dialog (cancelled).
	menu := `.tile[data-peer="Grace"] button.mod-toggle`
	jsClick(t, ada, menu)
	waitOrDump(t, ada, "moderation menu", fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-expanded') === 'true'`, menu), browserJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4, moderation menu", axeWide)
	jsClick(t, ada, `.tile[data-peer="Grace"] [role=menuitem][data-action=kick]`)
	waitOrDump(t, ada, "removal dialog", `document.getElementById('kick-dialog').open`, browserJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4, removal dialog", axePhone)
	jsClick(t, ada, "#kick-cancel")
	waitOrDump(t, ada, "removal dialog", `!document.getElementById('kick-dialog').open`, browserJoinTimeout)

	if err := grace.Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace (screen)"]')?.dataset.layout === 'stage'`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4, screen shared", axeBoth)

	for _, p := range call {
		_ = p.Close()
	}
}
