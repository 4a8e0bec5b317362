package signaling

import (
	"testing"
	"time"
)

// TestResumeKeepsTheParticipant: B's socket dies without a goodbye; A sees
// B away (not gone), A's signal to B waits, and a new connection with B's
// resume token is B again: same id, the waiting signal delivered, A told
// B is back, and no peer-left ever.
func TestResumeKeepsTheParticipant(t *testing.T) {
	h, url := testHub(t, Options{ResumeGrace: 5 * time.Second})
	a, wa := join(t, url, "r", "A")
	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	if wb.Resume == "" {
		t.Fatal("welcome carries no resume token")
	}

	b.ws.NetConn().Close() // no close frame: the network went away
	if m := a.expect(TypePeerAway); m.Peer.ID != wb.ID {
		t.Fatalf("peer-away for %q, want %q", m.Peer.ID, wb.ID)
	}
	a.send(map[string]any{"type": "signal", "to": wb.ID, "data": "while-away"})

	b2, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume})
	if w.ID != wb.ID || !w.Resumed || len(w.Peers) != 1 || w.Peers[0].Name != "A" {
		t.Fatalf("resumed welcome %+v, want id %s, resumed, peers [A]", w, wb.ID)
	}
	if w.Resume == "" || w.Resume == wb.Resume {
		t.Errorf("the resumed welcome must carry a fresh token, got %q", w.Resume)
	}
	if m := b2.expect(TypeSignal); string(m.Data) != `"while-away"` {
		t.Errorf("queued signal %s, want \"while-away\"", m.Data)
	}
	if m := a.expect(TypePeerBack); m.Peer.ID != wb.ID {
		t.Errorf("peer-back for %q", m.Peer.ID)
	}
	// Relaying works both ways on the new connection.
	b2.send(map[string]any{"type": "signal", "to": wa.ID, "data": 1})
	a.expect(TypeSignal)
	if rooms := h.Rooms(); len(rooms) != 1 || len(rooms[0].Peers) != 2 {
		t.Fatalf("rooms after resume: %+v", rooms)
	}

	// A used token is spent.
	if _, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume}); w.ID == wb.ID || w.Resumed {
		t.Errorf("a spent token resumed %+v", w)
	}
}

// TestResumeGraceEnds: an away participant that does not come back leaves
// with reason "timeout" once the grace is over, and its token is void.
func TestResumeGraceEnds(t *testing.T) {
	h, url := testHub(t, Options{ResumeGrace: 200 * time.Millisecond})
	a, _ := join(t, url, "r", "A")
	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	b.ws.NetConn().Close()
	a.expect(TypePeerAway)
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "timeout" {
		t.Fatalf("peer-left %+v, want B with reason timeout", m)
	}
	waitFor(t, func() bool { return len(h.Rooms()) == 1 && len(h.Rooms()[0].Peers) == 1 })
	if _, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume}); w.ID == wb.ID || w.Resumed {
		t.Errorf("an expired token resumed %+v", w)
	}
}

// TestResumeTakesOverALiveConnection: the laptop woke before the server's
// heartbeat noticed it had slept; the new connection takes over and the old
// one is closed without a peer-left.
func TestResumeTakesOverALiveConnection(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 5 * time.Second})
	a, _ := join(t, url, "r", "A")
	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	_, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume})
	if w.ID != wb.ID || !w.Resumed {
		t.Fatalf("welcome %+v, want B resumed", w)
	}
	if m := a.expect(TypePeerBack); m.Peer.ID != wb.ID {
		t.Fatalf("A got %+v, want peer-back for B", m)
	}
	// The old connection learns why it ends (it saw 1006 before).
	if code := b.expectClose(); code != CloseTakenOver {
		t.Fatalf("old connection closed with %d, want %d", code, CloseTakenOver)
	}
}

// TestGoodbyeIsNotAway: a close frame 1000/1001 (a closed tab) and a
// `leave` end the participant at once; a resume token then does nothing.
func TestGoodbyeIsNotAway(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 5 * time.Second})
	a, _ := join(t, url, "r", "A")
	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	b.ws.WriteMessage(8, []byte{0x03, 0xe9}) // close frame, 1001 going away
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "left" {
		t.Fatalf("A got %+v, want B left", m)
	}
}

// TestBacklogOverflowEnds: an away participant whose waiting messages
// pass the bound leaves at once (what it missed cannot be rebuilt).
func TestBacklogOverflowEnds(t *testing.T) {
	_, url := testHub(t, Options{ResumeGrace: 5 * time.Second, RateLimit: 10000, RateBurst: 10000})
	a, _ := join(t, url, "r", "A")
	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	b.ws.NetConn().Close()
	a.expect(TypePeerAway)
	for range maxBacklog + 1 {
		a.send(map[string]any{"type": "signal", "to": wb.ID, "data": 1})
	}
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "timeout" {
		t.Fatalf("A got %+v, want B gone", m)
	}
}
