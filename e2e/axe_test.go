package e2e

// Accessibility: axe-core (pinned in web/package-lock.json, installed by
// scripts/ensure-deps.sh into web/node_modules; never served) injected into
// every page of the client, with the WCAG 2.1 A and AA rules. The test
// asserts no violations at all, of any impact, at 1280×720 and 360×740.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// what a failure message needs.
const jsAxeRun = `(async () => {
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('axe did not finish in 4 min')), 240000));
  const r = await Promise.race([timeout, axe.run(document, { runOnly: { type: 'tag', values: ` + axeTags + ` }, resultTypes: ['violations'] })]);
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

// expectNoAxeViolations runs axe on p at every review size and reports each
// violation with its rule, impact and the elements concerned.
func expectNoAxeViolations(t *testing.T, p *browsertest.Page, src, label string) {
	t.Helper()
	if ok := browsertest.MustEval[bool](p, `typeof axe === 'object'`); !ok {
		browsertest.MustEval[bool](p, src+"\n;true")
	}
	for _, size := range reviewSizes {
		setViewport(t, p, size.w, size.h)
		time.Sleep(axeSettle)
		raw := browsertest.MustEval[string](p, jsAxeRun)
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
		if len(vs) == 0 {
			t.Logf("%s at %d×%d: no axe violations", label, size.w, size.h)
		}
	}
	resetViewport(t, p)
}

// TestBrowserAxe checks the landing page, the lobby (camera allowed and
// blocked), a call (two and four people, chat open, a screen shared, the
// reaction bar, the layout picker and the shortcuts dialog open) and the
// admin page.
func TestBrowserAxe(t *testing.T) {
	src := axeSource(t)
	ts := testserver.Start(t, nil)
	b := browsertest.New(t, browsertest.WithWindowSize(int(reviewSizes[0].w), int(reviewSizes[0].h)))
	room := browserRoom("axe")

	home := b.NewPage(t, ts.URL+"/")
	expectNoAxeViolations(t, home, src, "landing")
	_ = home.Close()

	lobby := b.NewPage(t, ts.URL+"/r/"+room)
	lobby.MustWaitFor(`document.querySelector('#camera-select').options.length > 0 && document.querySelector('.preview').dataset.cam === 'on'`, browserJoinTimeout)
	expectNoAxeViolations(t, lobby, src, "lobby")
	_ = lobby.Close()
	blocked := b.NewPage(t, ts.URL+"/r/"+room, browsertest.WithInitScript(jsBlockMedia))
	blocked.MustWaitFor(`!document.querySelector('#media-help').hidden && document.querySelector('#camera-select').disabled`, browserJoinTimeout)
	expectNoAxeViolations(t, blocked, src, "lobby, camera blocked")
	_ = blocked.Close()

	adm := b.NewPage(t, ts.URL+"/admin")
	expectNoAxeViolations(t, adm, src, "admin sign-in")

	// Every participant's page loads before any call runs (loading beside a
	// running call can outlast the harness's wait on a loaded machine).
	// The third and fourth have no camera: four pages sending video
	// saturate a 2-core machine, and the page is checked here, not the video.
	later := []*browsertest.Page{
		openLobby(t, b, ts, room, browsertest.WithInitScript(jsNoCamera)),
		openLobby(t, b, ts, room, browsertest.WithInitScript(jsNoCamera)),
	}
	var call []*browsertest.Page
	for _, n := range []string{"Ada", "Grace"} {
		call = append(call, b.NewPage(t, browserRoomURL(ts, room, n)))
	}
	ada := call[0]
	// The page is what is checked, not the video: a connected tile is enough
	// (on a loaded machine the first frames can take long).
	waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace"]')?.dataset.state === 'connected'`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 2")

	adminSignIn(t, adm, testserver.AdminToken)
	waitOrDump(t, adm, "admin", fmt.Sprintf(`!!document.querySelector('.room[data-room=%q] tr[data-peer-id]')`, room), adminTimeout)
	expectNoAxeViolations(t, adm, src, "admin with a room")
	_ = adm.Close()

	for i, n := range []string{"Linus", "Barbara"} {
		joinFromLobby(t, later[i], n)
		waitOrDump(t, later[i], n, `parley.state === 'in-call'`, axeJoinTimeout)
		call = append(call, later[i])
	}
	waitOrDump(t, ada, "Ada", `document.querySelectorAll('.tile:not([data-self])[data-state="connected"]').length === 3`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4")

	jsClick(t, ada, "#chat-toggle")
	browsertest.MustEval[bool](ada, `(() => {
	  const i = document.querySelector('#chat-input');
	  i.value = 'Hello — https://example.org/notes'; i.form.requestSubmit();
	  return true;
	})()`)
	ada.MustWaitFor(`document.querySelectorAll('#chat-log li').length > 0`, browserJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4, chat open")
	jsClick(t, ada, "#side-close")

	if err := call[1].Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, ada, "Ada", `document.querySelector('.tile[data-peer="Grace (screen)"]')?.dataset.layout === 'stage'`, axeJoinTimeout)
	expectNoAxeViolations(t, ada, src, "call of 4, screen shared")

	jsClick(t, ada, "#react-toggle")
	expectNoAxeViolations(t, ada, src, "call of 4, reaction bar open")
	jsClick(t, ada, "#react-toggle")
	jsClick(t, ada, "#layout-toggle")
	expectNoAxeViolations(t, ada, src, "call of 4, layout picker open")
	jsClick(t, ada, "#layout-toggle")
	jsClick(t, ada, "#help-toggle")
	expectNoAxeViolations(t, ada, src, "call of 4, shortcuts dialog")
	for _, p := range call {
		_ = p.Close()
	}
}
