package e2e

// Viewers and in-room moderation in Chromium (docs/access.md `publish` and
// `admin`, docs/protocol.md `moderate` and `muted`): what each person sees.

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsCountGetUserMedia counts the page's getUserMedia calls in window.__gum
// (an init script: it runs before the page's own modules).
const jsCountGetUserMedia = `(() => {
  window.__gum = 0;
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const real = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => { window.__gum++; return real(c); };
})()`

// jsViewerTile is true when the remote tile named %q is marked a viewer
// (data-viewer, a "Viewer" label), shows its avatar (camera and microphone
// off) and has never presented a frame.
const jsViewerTile = `(() => {
  const t = document.querySelector('.tile:not([data-self])[data-peer=%q]');
  const v = t?.querySelector('video');
  return !!t && 'viewer' in t.dataset && t.dataset.cam === 'off' && t.dataset.mic === 'off' &&
    t.querySelector('.role[data-role=viewer]')?.textContent === 'Viewer' &&
    getComputedStyle(t.querySelector('.avatar')).display !== 'none' &&
    (!v || v.getVideoPlaybackQuality().totalVideoFrames === 0);
})()`

// jsMediaFrom sums, over whatever connection could carry media from the
// participant with id %q (their mesh link; the SFU's forwarded tracks
// announced for them), the RTP packets received and the tracks announced.
const jsMediaFrom = `(async () => {
  const id = %q;
  let packets = 0;
  const link = parley.peers().find((p) => p.id === id)?.pc;
  if (link) (await link.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp') packets += r.packetsReceived || 0;
  });
  const forwarded = parley.sfu()?.forwarded?.[id] ?? 0;
  return packets + forwarded;
})()`

// jsViewerControls is true when the microphone, camera and share buttons
// are disabled and say why, and the header says "Viewer".
const jsViewerControls = `(() => {
  const btns = ['mic-toggle', 'cam-toggle', 'screen-toggle'].map((id) => document.getElementById(id));
  const note = document.getElementById('role-note');
  return btns.every((b) => b.disabled && /joined as a viewer/.test(b.title) && b.getAttribute('aria-pressed') !== 'true') &&
    !note.hidden && note.textContent === 'Viewer';
})()`

// jsMenuButton describes the moderator menu button on the tile named %q:
// "label|haspopup|expanded", or "" when there is none.
const jsMenuButton = `(() => {
  const b = document.querySelector('.tile:not([data-self])[data-peer=%q] button.mod-toggle');
  return b ? [b.getAttribute('aria-label'), b.getAttribute('aria-haspopup'), b.getAttribute('aria-expanded')].join('|') : '';
})()`

// jsMenuKeyboard opens the menu on the tile named %q as a keyboard user
// would (focus, Enter → click, ArrowDown, Escape) and reports each step:
// the focused item's action, then whether Escape closed the menu and gave
// the focus back to the button. It also checks the open menu fits in the
// window.
const jsMenuKeyboard = `(() => {
  const b = document.querySelector('.tile:not([data-self])[data-peer=%q] button.mod-toggle');
  const menu = document.getElementById(b.getAttribute('aria-controls'));
  const key = (el, k) => el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
  b.focus();
  b.click();
  const out = [document.activeElement?.dataset.action ?? 'none'];
  key(menu, 'ArrowDown');
  out.push(document.activeElement?.dataset.action ?? 'none');
  key(menu, 'ArrowDown');
  out.push(document.activeElement?.dataset.action ?? 'none');
  const r = menu.getBoundingClientRect();
  out.push(r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight ? 'fits' : 'clipped ' + JSON.stringify(r));
  key(menu, 'Escape');
  out.push(menu.hidden && document.activeElement === b && b.getAttribute('aria-expanded') === 'false' ? 'closed' : 'open');
  return out.join(' ');
})()`

// jsRogueViewer makes the viewer's page misbehave: it sends a moving canvas
// anyway, as the camera it announced (its self tile's stream), over its mesh
// link to the participant named %q (a new track: renegotiated), or, in an
// SFU room, on its SFU camera slot (replaceTrack). The server cannot stop
// the first and drops the second; the others' clients must show neither.
const jsRogueViewer = `(() => {
  const c = document.createElement('canvas');
  c.width = 160;
  c.height = 90;
  const g = c.getContext('2d');
  let i = 0;
  window.__rogue = setInterval(() => { g.fillStyle = 'hsl(' + (i++ * 20 %% 360) + ' 80%% 50%%)'; g.fillRect(0, 0, 160, 90); }, 50);
  const track = c.captureStream(15).getVideoTracks()[0];
  const camera = document.querySelector('.tile.self:not(.screen) video').srcObject;
  const link = parley.peers().find((p) => p.name === %q)?.pc;
  if (link) {
    link.addTrack(track, camera);
    return 'mesh';
  }
  const tx = parley.sfu().pc.getTransceivers().find((t) => t.direction === 'sendrecv' && t.receiver.track.kind === 'video');
  tx.sender.replaceTrack(track);
  return 'sfu';
})()`

// jsRogueArrived reports what the mesh link to id %q received: video RTP
// packets, the streams its routing kept and the ones it shows (for a
// viewer: none and none).
const jsRogueArrived = `(async () => {
  const id = %q;
  const link = parley.peers().find((p) => p.id === id)?.pc;
  let packets = 0;
  if (link) (await link.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') packets += r.packetsReceived || 0;
  });
  const r = parley.routing().find((x) => x.id === id);
  return { packets, kept: r?.streams.length ?? 0, shown: (r?.shown.camera ? 1 : 0) + (r?.shown.screen ? 1 : 0) };
})()`

// rogueArrival is jsRogueArrived's answer.
type rogueArrival struct{ Packets, Kept, Shown int }

// TestBrowserModeration: three people in one room — Mia (a moderator's
// token), Vic (a viewer's token: publish false) and Bo (a token with the
// defaults). Vic watches everyone without ever starting a camera; nobody
// shows anything from Vic; Mia mutes Bo and then removes Bo from the call;
// Vic's own attempt to moderate is refused. Once in a mesh room at a phone's
// width (360 px), once in an SFU room.
func TestBrowserModeration(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		phone        bool
	}{
		{"mesh", "mesh-only", true},
		{"sfu", "sfu-only", false},
	} {
		t.Run(tc.name, func(t *testing.T) { testModeration(t, tc.policy, tc.phone) })
	}
}

// testModeration runs the flow in a room with policy; phone: every page
// is 360×740 CSS pixels (a headless window cannot be that narrow).
func testModeration(t *testing.T, policy string, phone bool) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.Access.TokenSecret = string(accessTokenSecret)
		c.Policy = policy
	})
	b := browsertest.New(t)
	room := browserRoom("moderation")
	mode := map[string]string{"mesh-only": "mesh", "sfu-only": "sfu"}[policy]
	no := false
	tokens := map[string]access.Claims{
		"Mia": {Room: room, Admin: true},
		"Vic": {Room: room, Publish: &no},
		"Bo":  {Room: room},
	}
	names := []string{"Mia", "Vic", "Bo"}
	pages := map[string]*browsertest.Page{}
	link := func(n string) string {
		c := tokens[n]
		c.RegisteredClaims = expIn(time.Hour)
		return fmt.Sprintf("%s/r/%s?quality=low&token=%s", ts.URL, room, url.QueryEscape(mintAccess(t, accessTokenSecret, c)))
	}
	for _, n := range names {
		u := link(n) + "&name=" + n
		pages[n] = b.NewPage(t, u, browsertest.WithInitScript(jsCountGetUserMedia))
		if phone {
			if err := chromedp.Do(pages[n].Context(), chromedp.EmulateViewport(360, 740)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range names {
		waitOrDump(t, pages[n], n+" in the call", fmt.Sprintf(jsInCall, mode, 2, mode), switchTimeout)
	}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = browsertest.MustEval[string](pages[n], `parley.id`)
	}
	mia, vic, bo := pages["Mia"], pages["Vic"], pages["Bo"]
	stats := mode == "mesh" // (getStats per participant needs a mesh link)
	shot := func(p *browsertest.Page, what string) { modShot(t, p, "moderation-"+mode+"-"+what) }

	t.Run("the viewer watches and sends nothing", func(t *testing.T) {
		expectRemoteVideo(t, vic, "Vic", []string{"Bo", "Mia"}, nil, stats)
		waitOrDump(t, vic, "Vic's controls", jsViewerControls, browserJoinTimeout)
		shot(vic, "viewer")
		if n := browsertest.MustEval[int](vic, `window.__gum`); n != 0 {
			t.Errorf("Vic's page called getUserMedia %d times; a viewer must never ask for the camera or microphone", n)
		}
		if p := browsertest.MustEval[string](vic, `JSON.stringify(parley.permissions)`); p != `{"publish":false,"admin":false}` {
			t.Errorf("Vic's parley.permissions = %s", p)
		}
		if n := browsertest.MustEval[int](vic, `parley.sfu()?.pc?.getSenders().filter((s) => s.track).length ?? 0`); n != 0 {
			t.Errorf("Vic's SFU connection has %d senders with a track", n)
		}
		if n := browsertest.MustEval[int](vic, `parley.peers().reduce((n, p) => n + (p.pc?.getSenders().filter((s) => s.track).length ?? 0), 0)`); n != 0 {
			t.Errorf("Vic's mesh links have %d senders with a track", n)
		}
		for _, n := range []string{"Mia", "Bo"} {
			p := pages[n]
			expectRemoteVideo(t, p, n, []string{other(n)}, []string{"Vic"}, stats)
			waitOrDump(t, p, n+" shows Vic as a viewer", fmt.Sprintf(jsViewerTile, "Vic"), browserJoinTimeout)
			if got := browsertest.MustEval[int](p, fmt.Sprintf(jsMediaFrom, ids["Vic"])); got != 0 {
				t.Errorf("%s received media from the viewer Vic (%d packets or forwarded tracks)", n, got)
			}
			if c := browsertest.MustEval[int](p, `window.__gum`); c == 0 {
				t.Errorf("%s never started a camera", n)
			}
		}
		// Roles on tiles and in the people list.
		waitOrDump(t, bo, "Bo sees Mia as a moderator", `document.querySelector('.tile[data-peer="Mia"] .role[data-role=moderator]')?.textContent === 'Moderator'`, browserJoinTimeout)
		waitOrDump(t, mia, "Mia's header", `document.getElementById('role-note').textContent === 'Moderator'`, browserJoinTimeout)
		if err := bo.Click("#chat-toggle"); err != nil {
			t.Fatal(err)
		}
		waitOrDump(t, bo, "Bo's people list", fmt.Sprintf(`document.querySelector('#people li[data-peer-id=%q] .role[data-role=viewer]')?.textContent === 'Viewer' &&
		  document.querySelector('#people li[data-peer-id=%q] .role[data-role=moderator]')?.textContent === 'Moderator'`, ids["Vic"], ids["Mia"]), browserJoinTimeout)
		if err := bo.Click("#side-close"); err != nil {
			t.Fatal(err)
		}
		// A viewer still takes part: a raised hand reaches the others.
		if err := vic.Click("#hand-toggle"); err != nil {
			t.Fatal(err)
		}
		waitOrDump(t, mia, "Mia sees Vic's hand", `!!document.querySelector('.tile[data-peer="Vic"][data-hand]')`, browserJoinTimeout)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("a viewer's media is never shown, even if it sends", func(t *testing.T) {
		how := browsertest.MustEval[string](vic, fmt.Sprintf(jsRogueViewer, "Mia"))
		if how == "mesh" {
			// Mia's link gets the packets (nobody else can stop them) and drops them.
			waitOrDump(t, mia, "Vic's rogue video reaches Mia's link", fmt.Sprintf(`(%s).then((a) => a.packets > 0)`, fmt.Sprintf(jsRogueArrived, ids["Vic"])), browserJoinTimeout)
			time.Sleep(2 * time.Second)
			if got := browsertest.MustEval[rogueArrival](mia, fmt.Sprintf(jsRogueArrived, ids["Vic"])); got.Kept != 0 || got.Shown != 0 {
				t.Errorf("Mia's link to the viewer Vic kept %d and shows %d streams (%d packets arrived)", got.Kept, got.Shown, got.Packets)
			}
		} else {
			// Vic really sends to the SFU, which must drop it.
			waitOrDump(t, vic, "Vic's rogue video goes to the SFU", `parley.sfu().pc.getStats().then((st) => [...st.values()].some((r) => r.type === 'outbound-rtp' && r.kind === 'video' && r.packetsSent > 0))`, browserJoinTimeout)
			time.Sleep(3 * time.Second) // time for the SFU to forward it, were it to
		}
		for _, n := range []string{"Mia", "Bo"} {
			if !browsertest.MustEval[bool](pages[n], fmt.Sprintf(jsViewerTile, "Vic")) {
				t.Errorf("%s shows something of the viewer Vic's rogue video\npage state: %s", n, pageState(pages[n]))
			}
			if how == "sfu" {
				if got := browsertest.MustEval[int](pages[n], fmt.Sprintf(`parley.sfu()?.forwarded?.[%q] ?? 0`, ids["Vic"])); got != 0 {
					t.Errorf("the SFU forwarded %d tracks of the viewer Vic to %s", got, n)
				}
			}
		}
		browsertest.MustEval[bool](vic, `(clearInterval(window.__rogue), true)`)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("only the moderator has tile menus", func(t *testing.T) {
		for _, n := range []string{"Bo", "Vic"} {
			if got := browsertest.MustEval[string](mia, fmt.Sprintf(jsMenuButton, n)); got != "Moderate "+n+"|menu|false" {
				t.Errorf("Mia's menu button on %s's tile: %q", n, got)
			}
		}
		for _, n := range []string{"Bo", "Vic"} {
			if c := browsertest.MustEval[int](pages[n], `document.querySelectorAll('.mod-toggle').length`); c != 0 {
				t.Errorf("%s (no moderator) has %d moderation menus", n, c)
			}
		}
		if got := browsertest.MustEval[string](mia, fmt.Sprintf(jsMenuKeyboard, "Bo")); got != "mute kick mute fits closed" {
			t.Errorf("Mia's menu with the keyboard (first item, ArrowDown, ArrowDown, fits, Escape): %q", got)
		}
	})

	t.Run("the moderator mutes Bo", func(t *testing.T) {
		waitOrDump(t, bo, "Bo's microphone is on", `document.getElementById('mic-toggle').getAttribute('aria-pressed') === 'true'`, browserJoinTimeout)
		moderate(t, mia, "Bo", "mute", shot)
		waitOrDump(t, bo, "Bo is muted", `document.getElementById('mic-toggle').getAttribute('aria-pressed') === 'false' &&
		  !document.getElementById('banner').hidden &&
		  document.querySelector('#banner .banner-text').textContent.includes('Mia muted your microphone')`, browserJoinTimeout)
		shot(bo, "muted")
		for _, n := range []string{"Mia", "Vic"} {
			waitOrDump(t, pages[n], n+" sees Bo's microphone off", `document.querySelector('.tile[data-peer="Bo"]')?.dataset.mic === 'off'`, browserJoinTimeout)
		}
		expectRemoteVideo(t, mia, "Mia after the mute", []string{"Bo"}, []string{"Vic"}, false)
		expectRemoteVideo(t, vic, "Vic after the mute", []string{"Bo", "Mia"}, nil, false)
	})

	t.Run("the moderator removes Bo", func(t *testing.T) {
		moderate(t, mia, "Bo", "kick", shot)
		waitOrDump(t, bo, "Bo removed", `document.body.dataset.ended === 'kicked' && !document.getElementById('left').hidden && parley.state === 'left'`, browserJoinTimeout)
		shot(bo, "removed")
		if text := browsertest.MustEval[string](bo, `document.getElementById('left-text').textContent`); !strings.Contains(text, "Mia removed you from the room") {
			t.Errorf("Bo's page says %q, want it to name Mia", text)
		}
		for _, n := range []string{"Mia", "Vic"} {
			waitOrDump(t, pages[n], n+" no longer shows Bo", `!document.querySelector('.tile[data-peer="Bo"]') && parley.peers().length === 1`, browserJoinTimeout)
		}
		expectRemoteVideo(t, vic, "Vic after Bo left", []string{"Mia"}, nil, stats)
		// Not re-joined behind the person's back.
		time.Sleep(1500 * time.Millisecond)
		if st := browsertest.MustEval[string](bo, `parley.state`); st != "left" {
			t.Errorf("Bo's page is in state %q after the removal", st)
		}
	})

	t.Run("a viewer's lobby starts no device", func(t *testing.T) {
		p := b.NewPage(t, link("Vic"), browsertest.WithInitScript(jsCountGetUserMedia))
		defer p.Close()
		waitOrDump(t, p, "viewer lobby", `parley.state === 'lobby' && /joining as a viewer/.test(document.getElementById('lobby-msg').textContent) &&
		  ['camera-select', 'mic-select', 'lobby-cam-on', 'lobby-mic-on'].every((id) => document.getElementById(id).disabled)`, browserJoinTimeout)
		time.Sleep(500 * time.Millisecond)
		if n := browsertest.MustEval[int](p, `window.__gum`); n != 0 {
			t.Errorf("a viewer's lobby called getUserMedia %d times", n)
		}
	})

	t.Run("a viewer may not moderate", func(t *testing.T) {
		if !browsertest.MustEval[bool](vic, fmt.Sprintf(`parley.moderate('kick', %q)`, ids["Mia"])) {
			t.Fatal("Vic's moderate was not sent")
		}
		waitOrDump(t, vic, "Vic is refused", `!document.getElementById('banner').hidden &&
		  document.getElementById('banner').dataset.kind === 'error' &&
		  document.querySelector('#banner .banner-text').textContent.startsWith('You are not allowed to do that')`, browserJoinTimeout)
		time.Sleep(500 * time.Millisecond)
		if st := browsertest.MustEval[string](mia, `parley.state + ' ' + parley.peers().length`); st != "in-call 1" {
			t.Errorf("Mia after Vic's refused kick: %s", st)
		}
	})
}

// modShot saves a screenshot of p as NAME.png in $PARLEY_SCREENSHOTS, when
// set (for reviewing the UI by eye, like TestBrowserScreenshots).
func modShot(t *testing.T, p *browsertest.Page, name string) {
	t.Helper()
	dir := screenshotDir(t)
	if dir == "" {
		return
	}
	time.Sleep(300 * time.Millisecond) // a few video frames
	path := filepath.Join(dir, name+".png")
	if err := p.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	t.Log(path)
}

// other is the one publisher (Mia or Bo) who is not n.
func other(n string) string {
	if n == "Mia" {
		return "Bo"
	}
	return "Mia"
}

// moderate chooses action ("mute" or "kick") in p's menu on the tile named
// target with real clicks, confirming a removal in the dialog; shot takes
// screenshots of the open menu and dialog.
func moderate(t *testing.T, p *browsertest.Page, target, action string, shot func(*browsertest.Page, string)) {
	t.Helper()
	tile := fmt.Sprintf(`.tile:not([data-self])[data-peer=%q]`, target)
	if err := p.Click(tile + " button.mod-toggle"); err != nil {
		t.Fatal(err)
	}
	waitOrDump(t, p, "menu open", fmt.Sprintf(`document.querySelector('%s button.mod-toggle').getAttribute('aria-expanded') === 'true'`, tile), browserJoinTimeout)
	shot(p, "menu-"+action)
	if err := p.Click(fmt.Sprintf(`%s [role=menuitem][data-action=%s]`, tile, action)); err != nil {
		t.Fatal(err)
	}
	if action != "kick" {
		return
	}
	waitOrDump(t, p, "removal dialog", fmt.Sprintf(`document.getElementById('kick-dialog').open && document.getElementById('kick-text').textContent.includes(%q)`, target), browserJoinTimeout)
	shot(p, "dialog")
	if err := p.Click("#kick-confirm"); err != nil {
		t.Fatal(err)
	}
}
