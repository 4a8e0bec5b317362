package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/browsertest"
	"github.com/parleyhq/parley/internal/testserver"
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

// TestBrowserScreenshots saves screenshots of every page at 1280×800 and
// 360×740 for reviewing the UI by eye. It runs only when PARLEY_SCREENSHOTS
// names a directory:
//
//	PARLEY_SCREENSHOTS=/tmp/shots go test ./e2e -run BrowserScreenshots
func TestBrowserScreenshots(t *testing.T) {
	dir := screenshotDir(t)
	if dir == "" {
		t.Skip("set PARLEY_SCREENSHOTS=DIR to save screenshots of the web client")
	}
	ts := testserver.Start(t, nil)
	b := browsertest.New(t)
	for _, size := range []struct{ w, h int64 }{{1280, 800}, {360, 740}} {
		shot := func(p *browsertest.Page, name string) {
			t.Helper()
			if err := chromedp.Do(p.Context(), chromedp.EmulateViewport(size.w, size.h)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // layout and a few video frames
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, size.w))
			if err := p.Screenshot(path); err != nil {
				t.Fatal(err)
			}
			t.Log(path)
		}
		home := b.NewPage(t, ts.URL+"/")
		shot(home, "landing")
		notFound := b.NewPage(t, ts.URL+"/r/not.a.room")
		shot(notFound, "404")
		room := browserRoom(fmt.Sprintf("shots%d", size.w))
		lobby := b.NewPage(t, ts.URL+"/r/"+room)
		lobby.MustWaitFor(`document.querySelector('#camera-select').options.length > 0`, browserJoinTimeout)
		shot(lobby, "lobby")
		var call []*browsertest.Page
		for _, n := range []string{"Ada", "Grace Hopper", "Linus"} {
			call = append(call, b.NewPage(t, browserRoomURL(ts, room, n)))
		}
		call[0].MustWaitFor(`document.querySelectorAll('.tile:not([data-self]) video').length === 2`, browserJoinTimeout)
		for _, c := range []struct {
			p   *browsertest.Page
			btn string
		}{{call[1], "#cam-toggle"}, {call[2], "#mic-toggle"}} {
			if err := c.p.Click(c.btn); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		shot(call[0], "call")
		if err := call[1].Click("#screen-toggle"); err != nil {
			t.Fatal(err)
		}
		call[0].MustWaitFor(`!!document.querySelector('.tile[data-peer="Grace Hopper (screen)"]')`, browserJoinTimeout)
		shot(call[0], "call-screen")
		// The side panel (chat, people, files) with a message in it, and
		// the reaction bar.
		if err := call[0].Click("#chat-toggle"); err != nil {
			t.Fatal(err)
		}
		browsertest.MustEval[bool](call[0], `(() => {
		  const i = document.querySelector('#side textarea, #side input[type=text]');
		  if (i) { i.value = 'Hello from Ada — a link: https://example.org/notes'; i.form?.requestSubmit(); }
		  return true;
		})()`)
		shot(call[0], "call-chat")
		if err := call[0].Click("#side-close"); err != nil {
			t.Fatal(err)
		}
		if err := call[0].Click("#react-toggle"); err != nil {
			t.Fatal(err)
		}
		shot(call[0], "call-react")
		for _, p := range append(call, home, notFound, lobby) {
			_ = p.Close()
		}
	}
}
