package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeLink is the room node's end of a relayed participant's link: what
// the hub sends is kept in order on out.
type fakeLink struct {
	out    chan Frame
	mu     sync.Mutex
	closed bool
}

func newFakeLink() *fakeLink { return &fakeLink{out: make(chan Frame, 64)} }

func (l *fakeLink) Send(f Frame) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.out <- f
	}
	return nil
}

func (l *fakeLink) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

// expectText reads the next text frame of type typ, skipping pings.
func (l *fakeLink) expectText(t *testing.T, typ string) msg {
	t.Helper()
	for {
		select {
		case f := <-l.out:
			if f.Kind == FramePing {
				continue
			}
			var m msg
			if f.Kind != FrameText || json.Unmarshal(f.Data, &m) != nil || m.Type != typ {
				t.Fatalf("link frame %d %q, want a %s", f.Kind, f.Data, typ)
			}
			return m
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s on the link", typ)
		}
	}
}

// TestRelayedDropIsResumable: when the entry node's WebSocket to a relayed
// participant drops without a goodbye (the link says Gone), the participant
// is away on the room's node, not gone, and its resume token brings it back
// through any connection: as a dropped browser socket on the room's node
// itself would (docs/cluster.md "A resume token works through any node").
func TestRelayedDropIsResumable(t *testing.T) {
	h, url := testHub(t, Options{ResumeGrace: 5 * time.Second})
	a, _ := join(t, url, "r", "A")
	link := newFakeLink()
	recv, err := h.ServeRemote(Hello{Session: "session-1", Entry: "other", RemoteAddr: "127.0.0.1:1234"}, link)
	if err != nil {
		t.Fatal(err)
	}
	recv(Frame{Kind: FrameText, Data: []byte(`{"type":"join","v":1,"room":"r","name":"B"}`)})
	wb := link.expectText(t, TypeWelcome)
	a.expect(TypePeerJoined)

	recv(Frame{Kind: FrameGone})
	if m := a.expect(TypePeerAway); m.Peer.ID != wb.ID {
		t.Fatalf("peer-away for %q, want %q", m.Peer.ID, wb.ID)
	}
	_, w := joinWith(t, url, "r", "B", map[string]any{"resume": wb.Resume})
	if w.ID != wb.ID || !w.Resumed {
		t.Fatalf("welcome %+v, want B (%s) resumed", w, wb.ID)
	}
	if m := a.expect(TypePeerBack); m.Peer.ID != wb.ID {
		t.Errorf("peer-back for %q", m.Peer.ID)
	}
}

// TestRelayedLostIsNotResumable: a relayed participant a message was
// discarded for (Lost) leaves at once, as on one node.
func TestRelayedLostIsNotResumable(t *testing.T) {
	h, url := testHub(t, Options{ResumeGrace: 5 * time.Second})
	a, _ := join(t, url, "r", "A")
	link := newFakeLink()
	recv, err := h.ServeRemote(Hello{Session: "session-2", Entry: "other", RemoteAddr: "127.0.0.1:1234"}, link)
	if err != nil {
		t.Fatal(err)
	}
	recv(Frame{Kind: FrameText, Data: []byte(`{"type":"join","v":1,"room":"r","name":"B"}`)})
	wb := link.expectText(t, TypeWelcome)
	a.expect(TypePeerJoined)
	recv(Frame{Kind: FrameLost})
	if m := a.expect(TypePeerLeft); m.Peer.ID != wb.ID {
		t.Fatalf("peer-left for %q, want %q", m.Peer.ID, wb.ID)
	}
}

// deadOwnerCluster is a directory that names a dead node for a room until
// unreachable Dials have failed, then places the room here: what an entry
// node sees while the cluster gives a dead node up.
type deadOwnerCluster struct {
	mu          sync.Mutex
	unreachable int // Dials left to fail
	dials       int
}

func (d *deadOwnerCluster) Locate(context.Context, string) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unreachable > 0 {
		return "dead", false, nil
	}
	return "here", true, nil
}

func (d *deadOwnerCluster) Dial(context.Context, string, Hello, func(Frame)) (Link, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials++
	d.unreachable--
	return nil, errors.New("no responders")
}

// TestJoinWaitsOutADeadOwner: a join whose room's node cannot be reached
// (it just died; the directory still names it) is not refused: the entry
// node looks again until the room is placed on a live node, here, and the
// participant is welcomed.
func TestJoinWaitsOutADeadOwner(t *testing.T) {
	cl := &deadOwnerCluster{unreachable: 3}
	_, url := testHub(t, Options{Cluster: cl})
	c, w := join(t, url, "moved", "A")
	defer c.ws.Close()
	if w.ID == "" {
		t.Fatalf("welcome without an id: %+v", w)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.dials != 3 {
		t.Errorf("%d dials to the dead node, want 3", cl.dials)
	}
}
