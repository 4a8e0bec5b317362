package signaling

import (
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Resuming against what can happen at the same moment: a backlog that
// overflows, an SFU message on its way to the old connection, a queue that
// the resumed welcome and backlog must fit into, and a connection whose
// queue overflowed.

// TestInvalidUTF8NotRelayed: a key message with invalid UTF-8 is refused
// and never reaches the others (a browser fails a WebSocket that receives
// such a text frame, so one would drop the whole room).
func TestInvalidUTF8NotRelayed(t *testing.T) {
	_, url := testHub(t, Options{})
	a, _ := join(t, url, "u", "A")
	b, _ := join(t, url, "u", "B")
	a.expect(TypePeerJoined)
	b.sendRaw(`{"type":"key","data":"` + "\xff\xfe" + `"}`)
	b.expectError(CodeBadJSON)
	b.send(map[string]any{"type": "key", "data": "fine"})
	if m := a.expect(TypeKey); string(m.Data) != `"fine"` {
		t.Fatalf("A got %s, want only the valid key message", m.Data)
	}
}

// TestResumeAfterOverflowLeaves: a backlog that overflows while the
// resume is under way (the SFU sends without Hub.mu) makes the participant
// leave, and the new connection join afresh: never `resumed` with a gap.
func TestResumeAfterOverflowLeaves(t *testing.T) {
	var h *Hub
	var bID atomic.Value
	var calls atomic.Int32
	opts := Options{ResumeGrace: 5 * time.Second}
	// ICEServers runs between resume's two lock phases: overflow B's
	// backlog there, as the SFU could.
	opts.ICEServers = func(id string) []ICEServer {
		if v, _ := bID.Load().(string); v == id && calls.Add(1) == 1 {
			h.mu.Lock()
			old := h.peers[id]
			h.mu.Unlock()
			for range maxBacklog + 1 {
				old.send(encode(relayMsg{Type: TypeSignal, From: SFUPeerID, Data: json.RawMessage(`1`)}))
			}
		}
		return nil
	}
	h, url := testHub(t, opts)
	a, _ := join(t, url, "o", "A")
	b, wb := join(t, url, "o", "B")
	a.expect(TypePeerJoined)
	bID.Store(wb.ID)
	b.ws.NetConn().Close()
	a.expect(TypePeerAway)
	_, w := joinWith(t, url, "o", "B", map[string]any{"resume": wb.Resume})
	if w.Resumed || w.ID == wb.ID {
		t.Fatalf("welcome %+v: resumed although the backlog overflowed", w)
	}
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "timeout" {
		t.Fatalf("A got %+v, want B gone (timeout)", m)
	}
	if m := a.expect(TypePeerJoined); m.Peer.ID != w.ID {
		t.Fatalf("A got %+v, want the fresh B", m)
	}
}

// TestSFUMessageDuringResume: an SFU message whose sender loaded the old
// connection just before a resume moved the participant still arrives,
// on the new connection.
func TestSFUMessageDuringResume(t *testing.T) {
	sfu := &fakeSFU{}
	h, url := testHub(t, Options{SFU: sfu, ResumeGrace: 5 * time.Second})
	a, _ := join(t, url, "r", "A")
	b, wb := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	b.send(map[string]any{"type": "signal", "to": SFUPeerID, "data": "offer"})
	b.expect(TypeSignal) // the fake SFU's answer
	b.ws.NetConn().Close()
	a.expect(TypePeerAway)
	h.mu.Lock()
	rt := h.peers[wb.ID].route
	h.mu.Unlock()
	old := rt.Load() // sendRouted has loaded the route...
	b2, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume})
	if !w.Resumed {
		t.Fatal("not resumed")
	}
	// ...and sends now, to the connection the resume replaced.
	msg := encode(relayMsg{Type: TypeSignal, From: SFUPeerID, Data: json.RawMessage(`"renegotiate"`)})
	for c := old; !c.send(msg); c = rt.Load() {
	}
	if m := b2.expect(TypeSignal); m.From != SFUPeerID || string(m.Data) != `"renegotiate"` {
		t.Fatalf("B got %+v, want the SFU's message", m)
	}
}

// TestResumeFillsAQueue: a backlog as long as the send queue, plus the
// welcome, reaches the resumed connection in order.
func TestResumeFillsAQueue(t *testing.T) {
	const queue = 16
	_, url := testHub(t, Options{SendQueue: queue, ResumeGrace: 5 * time.Second, RateLimit: 1000, RateBurst: 1000})
	a, _ := join(t, url, "q", "A")
	b, wb := join(t, url, "q", "B")
	a.expect(TypePeerJoined)
	b.ws.NetConn().Close()
	a.expect(TypePeerAway)
	for i := range 2 * queue {
		a.send(map[string]any{"type": "signal", "to": wb.ID, "data": i})
	}
	time.Sleep(100 * time.Millisecond) // A's signals reach B's backlog
	b2, w := joinWith(t, url, "q", "B", map[string]any{"resume": wb.Resume})
	if !w.Resumed {
		t.Fatal("not resumed")
	}
	for i := range 2 * queue {
		var n int
		if m := b2.expect(TypeSignal); json.Unmarshal(m.Data, &n) != nil || n != i {
			t.Fatalf("signal %s, want %d", m.Data, i)
		}
	}
}

// TestOverflowedQueueCannotResume: a participant disconnected because its
// queue was full missed a message, so it leaves (peer-left) even where
// resuming is on.
func TestOverflowedQueueCannotResume(t *testing.T) {
	var ln *stallListener
	opts := Options{SendQueue: 2, WriteWait: 5 * time.Second, RateBurst: 1000, RateLimit: 1000,
		PingInterval: time.Minute, PongWait: 2 * time.Minute, ResumeGrace: 5 * time.Second}
	_, url := testHubOn(t, opts, func(l net.Listener) net.Listener { ln = &stallListener{Listener: l}; return ln })
	a, _ := join(t, url, "full", "A")
	_, wb := join(t, url, "full", "B")
	a.expect(TypePeerJoined)
	ln.conn(1).stall() // B's writes block (within WriteWait): its queue fills
	for i := range 4 {
		a.send(map[string]any{"type": "signal", "to": wb.ID, "data": i})
	}
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID {
		t.Fatalf("A got %+v, want B gone", m)
	}
}

// TestKickedCannotRejoin: a join that a kicked connection sent before its
// close went out is ignored.
func TestKickedCannotRejoin(t *testing.T) {
	h, url := testHub(t, Options{})
	a, _ := join(t, url, "k", "A")
	b, wb := join(t, url, "k", "B")
	a.expect(TypePeerJoined)
	h.mu.Lock()
	done := h.kickLocked(h.peers[wb.ID], "removed") // Kick, before its done()
	h.mu.Unlock()
	b.send(map[string]any{"type": "join", "v": 1, "room": "k", "name": "B-again"})
	b.expectError(CodeKicked)
	time.Sleep(50 * time.Millisecond) // the join is read meanwhile
	done()
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID || m.Reason != "kicked" {
		t.Fatalf("A got %+v, want B kicked", m)
	}
	if code := b.expectClose(); code != 1008 {
		t.Errorf("B closed with %d, want 1008", code)
	}
	a.ws.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, raw, err := a.ws.ReadMessage(); err == nil {
		t.Errorf("A got %s after the kick", raw)
	}
}
