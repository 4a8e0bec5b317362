package e2e

// Unencrypted rooms (docs/e2ee.md "Unencrypted rooms"):
// only the configuration or an administrator lets a room go without
// end-to-end encryption, and then everyone in it sees so; an invite link
// never joins such a room, and a call that started encrypted stays so.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsUnencryptedShown is what an unencrypted call shows: the header's note
// and the chat panel's note (both must say NOT end-to-end encrypted).
const jsUnencryptedShown = `(() => {
  const strip = document.getElementById('e2ee-off');
  const note = document.querySelector('#side .side-note')?.textContent ?? '';
  return !!strip && !strip.hidden && strip.textContent.includes('NOT end-to-end encrypted')
    && note.includes('NOT end-to-end encrypted') && parley.e2ee()?.enabled === false;
})()`

// jsEncryptedShown: the call encrypts and shows no unencrypted note.
const jsEncryptedShown = `(() => {
  const strip = document.getElementById('e2ee-off');
  const note = document.querySelector('#side .side-note')?.textContent ?? '';
  return parley.e2ee()?.enabled === true && (!strip || strip.hidden)
    && note.includes('end-to-end encrypted') && !note.includes('NOT');
})()`

// TestBrowserUnencryptedRoom: in a room the configuration allows
// unencrypted, two pages see each other's picture, each shows the note, the
// chat says so and every lock is open; an invite link to that room does not
// join. In an encrypted room, an administrator allowing it unencrypted
// leaves the page inside encrypting (with a warning), a newcomer joins
// unencrypted, and taking it back makes the newcomer rejoin encrypted.
func TestBrowserUnencryptedRoom(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) { c.E2EE.UnencryptedRooms = []string{"plain-*"} })
	b := e2eeBrowser(t)

	t.Run("config", func(t *testing.T) {
		room := browserRoom("plain")
		pages := openPages(t, b, ts, room, "", "A", "B")
		for n, p := range pages {
			waitOrDump(t, p, n+" shows the room unencrypted", jsUnencryptedShown, e2eeTimeout)
			waitLocks(t, p, n+"'s locks", "off", others([]string{"A", "B"}, n)...)
			waitKnownPicture(t, p, n, others([]string{"A", "B"}, n)...)
		}
		c := b.NewPage(t, e2eeRoomURL(ts, room, "C", roomSecret()))
		waitOrDump(t, c, "the invite link refuses the unencrypted room",
			`document.body.dataset.ended === 'refuse-invite' && !document.getElementById('left').hidden`, e2eeTimeout)
		if n := len(newAdminClient(t, ts, testserver.AdminToken).room(room).Participants); n != 2 {
			t.Errorf("%d participants after the invite link's refusal, want 2", n)
		}
	})

	t.Run("admin", func(t *testing.T) {
		room := browserRoom("live")
		admin := newAdminClient(t, ts, testserver.AdminToken)
		d := openPages(t, b, ts, room, "", "D")["D"]
		waitOrDump(t, d, "D encrypts", jsEncryptedShown, e2eeTimeout)

		// The admin page's button (two clicks) allows the room unencrypted.
		adm := b.NewPage(t, ts.URL+"/admin")
		adminSignIn(t, adm, testserver.AdminToken)
		card := fmt.Sprintf(`document.querySelector('.room[data-room=%q]')`, room)
		waitOrDump(t, adm, "admin page lists the room", card+`?.dataset.e2ee === 'true'`, adminTimeout)
		adminClickTwice(t, adm, fmt.Sprintf(`.room[data-room=%q] .room-e2ee`, room))
		waitOrDump(t, adm, "admin page shows the room unencrypted", card+`.dataset.e2ee === 'false' && `+card+`.querySelector('.room-meta').textContent.includes('NOT end-to-end encrypted')`, adminTimeout)
		if r := admin.room(room); r.E2EE || !r.E2EESet {
			t.Fatalf("admin API after the page's click: e2ee %v set %v, want false, true", r.E2EE, r.E2EESet)
		}
		waitOrDump(t, d, "D keeps encrypting and warns",
			`!document.getElementById('banner').hidden && document.querySelector('#banner .banner-text').textContent.includes('This call stays encrypted')`, e2eeTimeout)
		if ok := browsertest.MustEval[bool](d, jsEncryptedShown); !ok {
			t.Fatalf("D stopped encrypting after the server said unencrypted: %s", e2eeDump(d))
		}

		e := openPages(t, b, ts, room, "", "E")["E"]
		waitOrDump(t, e, "E joins unencrypted and shows it", jsUnencryptedShown, e2eeTimeout)

		admin.expect(http.StatusOK, http.MethodPut, "/api/admin/rooms/"+room+"/e2ee", map[string]bool{"e2ee": true}, nil)
		waitOrDump(t, e, "E rejoins encrypted", `parley.state === 'in-call' && `+jsEncryptedShown, e2eeTimeout)
	})
}
