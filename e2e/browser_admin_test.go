package e2e

// The admin page (/admin) in Chromium: sign-in with the token, the room
// list, a policy change reaching the call pages and the joins, a kick.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// adminTimeout bounds what the page shows after an action or a refresh (every 2.5 s).
const adminTimeout = 10 * time.Second

// adminSignIn types token into the admin page and submits it.
func adminSignIn(t *testing.T, p *browsertest.Page, token string) {
	t.Helper()
	browsertest.MustEval[bool](p, fmt.Sprintf(`(document.querySelector('#token').value = %q, true)`, token))
	if err := p.Click("#sign-in"); err != nil {
		t.Fatal(err)
	}
}

// adminClickTwice clicks a two-step (confirm) button of the admin page.
func adminClickTwice(t *testing.T, p *browsertest.Page, selector string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		if err := p.Click(selector); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBrowserAdmin(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 2 })
	b := browsertest.New(t)
	room := browserRoom("admin")
	a := b.NewPage(t, browserRoomURL(ts, room, "Ada"))
	g := b.NewPage(t, browserRoomURL(ts, room, "Grace"))
	expectRemoteVideo(t, a, "Ada", []string{"Grace"}, nil, false)
	graceID := browsertest.MustEval[string](g, `parley.id`)

	adm := b.NewPage(t, ts.URL+"/admin")

	t.Run("a wrong token is refused", func(t *testing.T) {
		adminSignIn(t, adm, "not-the-token")
		adm.MustWaitFor(`!document.querySelector('#admin-error').hidden`, adminTimeout)
		msg := browsertest.MustEval[string](adm, `document.querySelector('#admin-error').textContent`)
		if !strings.Contains(strings.ToLower(msg), "wrong token") {
			t.Errorf("wrong token: the page says %q", msg)
		}
		if !browsertest.MustEval[bool](adm, `document.querySelector('#dashboard').hidden && sessionStorage.length === 0`) {
			t.Error("the dashboard shows, or the wrong token was kept")
		}
	})

	t.Run("the right token lists the room and its participants", func(t *testing.T) {
		adminSignIn(t, adm, testserver.AdminToken)
		card := fmt.Sprintf(`document.querySelector('.room[data-room=%q]')`, room)
		waitOrDump(t, adm, "admin", card+` && document.querySelector('#admin-error').hidden`, adminTimeout)
		// The pre-flight reaches the SFU while the room is a mesh.
		waitOrDump(t, adm, "admin", fmt.Sprintf(`[...%s.querySelectorAll('tr[data-peer-id]')]
		  .map((r) => r.dataset.name + ':' + r.dataset.sfu).sort().join() === 'Ada:connected,Grace:connected'`, card), adminTimeout)
		mode := browsertest.MustEval[string](adm, card+`.querySelector('.room-mode').textContent`)
		if mode != "mesh" {
			t.Errorf("the room's mode shows as %q", mode)
		}
		if tok := browsertest.MustEval[string](adm, `sessionStorage.getItem('parley.admin.token')`); tok != testserver.AdminToken {
			t.Errorf("token kept as %q in sessionStorage", tok)
		}
		adminScreenshots(t, adm)
	})

	t.Run("mesh-only from the page reaches the calls and the joins", func(t *testing.T) {
		sel := fmt.Sprintf(`.room[data-room=%q]`, room)
		browsertest.MustEval[bool](adm, fmt.Sprintf(`(() => { const s = document.querySelector('%s .room-policy');
		  s.value = 'mesh-only'; s.dispatchEvent(new Event('change')); return true; })()`, sel))
		if err := adm.Click(sel + " .apply-policy"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*browsertest.Page{a, g} {
			waitOrDump(t, p, "call", `document.querySelector('#mode').dataset.policy === 'mesh-only' &&
			  document.querySelector('#mode').dataset.mode === 'mesh' && parley.policy === 'mesh-only'`, adminTimeout)
		}
		adm.MustWaitFor(fmt.Sprintf(`document.querySelector('%s').dataset.policy === 'mesh-only'`, sel), adminTimeout)
		late := b.NewPage(t, browserRoomURL(ts, room, "Linus"))
		waitOrDump(t, late, "Linus", `parley.state === 'lobby' && !document.querySelector('#banner').hidden`, browserJoinTimeout)
		msg := browsertest.MustEval[string](late, `document.querySelector('#banner .banner-text').textContent`)
		if !strings.Contains(msg, "limited to 2 participants (mesh-only mode)") {
			t.Errorf("the refused joiner reads %q", msg)
		}
		_ = late.Close()
	})

	t.Run("kicking removes a participant for everyone", func(t *testing.T) {
		adminClickTwice(t, adm, fmt.Sprintf(`tr[data-peer-id=%q] .kick`, graceID))
		waitOrDump(t, g, "Grace", `document.body.dataset.ended === 'kicked' && !document.querySelector('#left').hidden`, adminTimeout)
		title := browsertest.MustEval[string](g, `document.querySelector('#left-title').textContent`)
		if !strings.Contains(title, "removed") {
			t.Errorf("the kicked page says %q", title)
		}
		waitOrDump(t, a, "Ada", `!document.querySelector('.tile[data-peer="Grace"]') && parley.peers().length === 0`, adminTimeout)
		adm.MustWaitFor(fmt.Sprintf(`!document.querySelector('tr[data-peer-id=%q]')`, graceID), adminTimeout)
		// Not re-joined behind the person's back.
		time.Sleep(1500 * time.Millisecond)
		if st := browsertest.MustEval[string](g, `parley.state`); st != "left" {
			t.Errorf("the kicked page is in state %q", st)
		}
		if n := browsertest.MustEval[int](adm, fmt.Sprintf(`document.querySelectorAll('.room[data-room=%q] tr[data-peer-id]').length`, room)); n != 1 {
			t.Errorf("the admin page lists %d participants after the kick, want 1", n)
		}
	})

	t.Run("closing the room ends the call", func(t *testing.T) {
		adminClickTwice(t, adm, fmt.Sprintf(`.room[data-room=%q] .close-room`, room))
		waitOrDump(t, a, "Ada", `document.body.dataset.ended === 'room-closed' && !document.querySelector('#left').hidden`, adminTimeout)
		adm.MustWaitFor(fmt.Sprintf(`!document.querySelector('.room[data-room=%q]')`, room), adminTimeout)
	})

	t.Run("the default policy is set from the page", func(t *testing.T) {
		browsertest.MustEval[bool](adm, `(() => { const s = document.querySelector('#global-policy');
		  s.value = 'sfu-only'; s.dispatchEvent(new Event('change')); return true; })()`)
		if err := adm.Click("#global-apply"); err != nil {
			t.Fatal(err)
		}
		adm.MustWaitFor(`document.querySelector('#admin-notice').textContent.includes('sfu-only')`, adminTimeout)
		if got := adminGlobalPolicy(t, ts); got != "sfu-only" {
			t.Errorf("the server's default policy is %q", got)
		}
	})
}

// adminGlobalPolicy reads the default policy through the admin API.
func adminGlobalPolicy(t *testing.T, ts *testserver.Server) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/api/admin/rooms", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testserver.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Policy string `json:"policy"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Policy
}

// adminScreenshots saves the admin page at 1280 and 360 px wide when
// PARLEY_SCREENSHOTS names a directory (as TestBrowserScreenshots does).
func adminScreenshots(t *testing.T, p *browsertest.Page) {
	dir := screenshotDir(t)
	if dir == "" {
		return
	}
	for _, w := range []int64{1280, 360} {
		if err := chromedp.Do(p.Context(), chromedp.EmulateViewport(w, 740)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		path := filepath.Join(dir, fmt.Sprintf("admin-%d.png", w))
		if err := p.Screenshot(path); err != nil {
			t.Fatal(err)
		}
		t.Log(path)
	}
}
