package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// screenshotDir is $PARLEY_SCREENSHOTS, made if missing; "" when unset
// (tests then take no screenshots).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// reviewSizes are the viewports every page is reviewed (and checked by axe)
// at: a laptop and a small phone.
var reviewSizes = []struct{ w, h int64 }{{1280, 720}, {360, 740}}

// setViewport emulates a w×h viewport on p. Clicks (Page.Click) do not
// reach an emulated viewport larger than the window: resetViewport before
// clicking.
func setViewport(t *testing.T, p *browsertest.Page, w, h int64) {
	t.Helper()
	if err := chromedp.Do(p.Context(), chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatal(err)
	}
}

// resetViewport ends setViewport's emulation: the page has its window's size again.
func resetViewport(t *testing.T, p *browsertest.Page) {
	t.Helper()
	if _, err := chromedp.Call(p.Context(), emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserScreenshots saves screenshots of every page and every layout
// at 1280×720 and 360×740 for reviewing the UI by eye. It runs only when
// PARLEY_SCREENSHOTS names a directory:
//
//	PARLEY_SCREENSHOTS=/tmp/shots go test ./e2e -run BrowserScreenshots
func TestBrowserScreenshots(t *testing.T) {
	dir := screenshotDir(t)
	if dir == "" {
		t.Skip("set PARLEY_SCREENSHOTS=DIR to save screenshots of the web client")
	}
	ts := testserver.Start(t, nil)
	b := browsertest.New(t, browsertest.WithWindowSize(int(reviewSizes[0].w), int(reviewSizes[0].h)))
	// shot saves p at both sizes as NAME-WIDTH.png.
	shot := func(p *browsertest.Page, name string) {
		t.Helper()
		for _, size := range reviewSizes {
			setViewport(t, p, size.w, size.h)
			time.Sleep(600 * time.Millisecond) // layout, its transition and a few video frames
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, size.w))
			if err := p.Screenshot(path); err != nil {
				t.Fatal(err)
			}
			t.Log(path)
		}
		resetViewport(t, p)
	}
	click := func(p *browsertest.Page, sel string) {
		t.Helper()
		jsClick(t, p, sel)
	}

	home := b.NewPage(t, ts.URL+"/")
	shot(home, "landing")
	notFound := b.NewPage(t, ts.URL+"/r/not.a.room")
	shot(notFound, "404")
	room := browserRoom("shots")
	lobby := b.NewPage(t, ts.URL+"/r/"+room)
	lobby.MustWaitFor(`document.querySelector('#camera-select').options.length > 0`, browserJoinTimeout)
	shot(lobby, "lobby")
	blocked := b.NewPage(t, ts.URL+"/r/"+room, browsertest.WithInitScript(jsBlockMedia))
	blocked.MustWaitFor(`!document.querySelector('#media-help').hidden`, browserJoinTimeout)
	shot(blocked, "lobby-blocked")
	for _, p := range []*browsertest.Page{home, notFound, lobby, blocked} {
		_ = p.Close()
	}

	// A call joined with the camera and microphone blocked: its banner
	// must not cover the header on a phone.
	muted := b.NewPage(t, browserRoomURL(ts, browserRoom("shots-banner"), "Ada"), browsertest.WithInitScript(jsBlockMedia))
	muted.MustWaitFor(`parley.state === 'in-call' && !document.querySelector('#banner').hidden`, browserJoinTimeout)
	shot(muted, "call-banner")
	_ = muted.Close()

	// Everyone's page loads now, before any call runs; they join later.
	gracePage := openLobby(t, b, ts, room)
	linus := openLobby(t, b, ts, room)
	ada := b.NewPage(t, browserRoomURL(ts, room, "Ada"))
	ada.MustWaitFor(`parley.state === 'in-call' && !document.querySelector('#alone').hidden`, browserJoinTimeout)
	shot(ada, "call-alone")
	grace := gracePage
	joinFromLobby(t, grace, "Grace Hopper")
	ada.MustWaitFor(`document.querySelector('.tile[data-self]').dataset.layout === 'pip'`, browserJoinTimeout)
	waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace Hopper"]')?.dataset.state === 'connected'`, axeJoinTimeout)
	shot(ada, "call-2-pip")
	joinFromLobby(t, linus, "Linus")
	ada.MustWaitFor(`document.querySelectorAll('.tile:not([data-self])[data-state="connected"]').length === 2`, axeJoinTimeout)
	click(grace, "#cam-toggle")
	click(linus, "#mic-toggle")
	time.Sleep(time.Second)
	shot(ada, "call-3-stage")
	for _, mode := range []string{"speaker", "grid"} {
		pickLayout(t, ada, mode)
		shot(ada, "call-3-"+mode)
	}
	pickLayout(t, ada, "stage")
	if err := grace.Click("#screen-toggle"); err != nil { // a real click: sharing needs a user gesture
		t.Fatal(err)
	}
	ada.MustWaitFor(`document.querySelector('.tile[data-peer="Grace Hopper (screen)"]')?.dataset.layout === 'stage'`, axeJoinTimeout)
	shot(ada, "call-screen-stage")
	shot(grace, "call-sharer") // the sharer's own page
	for _, mode := range []string{"speaker", "grid"} {
		pickLayout(t, ada, mode)
		shot(ada, "call-screen-"+mode)
	}
	pickLayout(t, ada, "stage")
	// A shared screen fullscreen (a real click: fullscreen needs a user gesture).
	screenTile := `.tile[data-peer="Grace Hopper (screen)"]`
	if err := ada.Click(screenTile + " button.fullscreen"); err != nil {
		t.Fatal(err)
	}
	ada.MustWaitFor(fmt.Sprintf(`document.fullscreenElement === document.querySelector(%q)`, screenTile), browserJoinTimeout)
	shot(ada, "call-fullscreen")
	press(t, ada, kb.Escape)
	ada.MustWaitFor(`document.fullscreenElement === null`, browserJoinTimeout)
	browsertest.MustEval[bool](ada, `(document.querySelector('.tile[data-peer="Linus"] .pin').click(), true)`)
	ada.MustWaitFor(`document.querySelector('.tile[data-peer="Linus"]').dataset.layout === 'stage'`, browserJoinTimeout)
	shot(ada, "call-pinned")
	browsertest.MustEval[bool](ada, `(document.querySelector('.tile[data-peer="Linus"] .pin').click(), true)`)
	// The side panel (chat, people, files) with a message in it, the
	// reaction bar, the layout picker and the shortcuts dialog.
	click(ada, "#chat-toggle")
	browsertest.MustEval[bool](ada, `(() => {
	  const i = document.querySelector('#chat-input');
	  i.value = 'Hello from Ada — a link: https://example.org/notes'; i.form.requestSubmit();
	  return true;
	})()`)
	shot(ada, "call-chat")
	click(ada, "#side-close")
	click(ada, "#react-toggle")
	shot(ada, "call-react")
	click(ada, "#react-toggle")
	click(ada, "#layout-toggle")
	shot(ada, "call-layouts")
	click(ada, "#layout-toggle")
	click(ada, "#help-toggle")
	shot(ada, "call-shortcuts")

	// The admin page: sign-in, a wrong token, and the rooms with this call.
	adm := b.NewPage(t, ts.URL+"/admin")
	shot(adm, "admin-signin")
	adminSignIn(t, adm, "not-the-admin-token")
	adm.MustWaitFor(`!document.querySelector('#admin-error').hidden`, adminTimeout)
	shot(adm, "admin-error")
	adminSignIn(t, adm, testserver.AdminToken)
	adm.MustWaitFor(fmt.Sprintf(`!!document.querySelector('.room[data-room=%q] tr[data-peer-id]')`, room), adminTimeout)
	shot(adm, "admin-rooms")
	_ = adm.Close()
	for _, p := range []*browsertest.Page{ada, grace, linus} {
		_ = p.Close()
	}
}
