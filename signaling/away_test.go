package signaling

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dropAway joins name to room and breaks its connection without a close
// frame; watcher sees it away. It returns the dropped one's welcome.
func dropAway(t *testing.T, url, room, name string, watcher *client) msg {
	t.Helper()
	c, w := join(t, url, room, name)
	watcher.expect(TypePeerJoined)
	c.ws.NetConn().Close()
	if m := watcher.expect(TypePeerAway); m.Peer.ID != w.ID {
		t.Fatalf("peer-away for %q, want %q", m.Peer.ID, w.ID)
	}
	return w
}

// TestFaultedConnectionNotResumable: a connection the WebSocket library
// closed for the client's fault, a frame over 1 MiB (1009) or a malformed
// frame (1002), leaves at once instead of holding its place.
func TestFaultedConnectionNotResumable(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 10 * time.Second})
	a, _ := join(t, url, "r", "A")

	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	w, err := b.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, hardReadLimit+1))
	w.Close()
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "closed" {
		t.Fatalf("after 1009, A got %+v, want B left", m)
	}

	c, wc := join(t, url, "r", "C")
	a.expect(TypePeerJoined)
	// An unmasked client frame (RFC 6455 §5.1: the server must close).
	if _, err := c.ws.NetConn().Write([]byte{0x81, 0x01, 'x'}); err != nil {
		t.Fatal(err)
	}
	if m := a.expect(TypePeerLeft); m.Peer.ID != wc.ID || m.Reason != "closed" {
		t.Fatalf("after 1002, A got %+v, want C left", m)
	}
	if _, w := joinWith(t, url, "r", "C", map[string]any{"resume": wc.Resume}); w.Resumed {
		t.Fatalf("a faulted connection resumed: %+v", w)
	}
}

// TestAwayCappedPerAddress: past MaxAwayPerAddress, a dropped participant
// from the same address leaves at once.
func TestAwayCappedPerAddress(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 10 * time.Second, MaxAwayPerAddress: 2})
	a, _ := join(t, url, "r", "A")
	dropAway(t, url, "r", "B", a)
	dropAway(t, url, "r", "C", a)
	d, wd := join(t, url, "r", "D")
	a.expect(TypePeerJoined)
	d.ws.NetConn().Close()
	if m := a.expect(TypePeerLeft); m.Peer.ID != wd.ID || m.Reason != "closed" {
		t.Fatalf("A got %+v, want D gone: its address already has 2 away", m)
	}
}

// TestAwayCappedInTotal: past MaxAway server-wide, likewise; once an away
// participant resumes, its place in the count is free again.
func TestAwayCappedInTotal(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 10 * time.Second, MaxAway: 1})
	a, _ := join(t, url, "r", "A")
	wb := dropAway(t, url, "r", "B", a)
	c, wc := join(t, url, "r", "C")
	a.expect(TypePeerJoined)
	c.ws.NetConn().Close()
	if m := a.expect(TypePeerLeft); m.Peer.ID != wc.ID {
		t.Fatalf("A got %+v, want C gone", m)
	}
	if _, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume}); !w.Resumed {
		t.Fatalf("B did not resume: %+v", w)
	}
	a.expect(TypePeerBack)
	dropAway(t, url, "r", "D", a) // B's place is free
}

// TestFullRoomOfAwayAdmitsNewcomer: a room whose places are held by away
// participants admits a newcomer; the longest-away one leaves for it.
func TestFullRoomOfAwayAdmitsNewcomer(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 10 * time.Second, RoomMax: 3})
	a, _ := join(t, url, "r", "A")
	wb := dropAway(t, url, "r", "B", a)
	dropAway(t, url, "r", "C", a)
	e, we := join(t, url, "r", "E")
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "timeout" {
		t.Fatalf("A got %+v, want B (away longest) gone", m)
	}
	if m := a.expect(TypePeerJoined); m.Peer.ID != we.ID {
		t.Fatalf("A got %+v, want E joined", m)
	}
	// C, the last one away, goes for F; full of present people, the
	// room refuses as before.
	e.send(map[string]any{"type": "leave"})
	a.expect(TypePeerLeft)
	join(t, url, "r", "F")
	a.expect(TypePeerJoined)
	join(t, url, "r", "G")
	if m := a.expect(TypePeerLeft); m.Reason != "timeout" {
		t.Fatalf("A got %+v, want C gone", m)
	}
	a.expect(TypePeerJoined)
	h := dial(t, url)
	h.send(map[string]any{"type": "join", "v": 1, "room": "r", "name": "H"})
	h.expectError(CodeRoomFull)
}
