package signaling

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeSFU records what signaling asks of the SFU.
type fakeSFU struct {
	mu       sync.Mutex
	sessions map[string]*fakeSession
}

type fakeSession struct {
	send   func(json.RawMessage)
	opts   SFUOptions
	mu     sync.Mutex
	got    []string
	closed bool
}

func (f *fakeSFU) Attach(room, peerID string, send func(json.RawMessage), opts SFUOptions) (SFUSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions == nil {
		f.sessions = map[string]*fakeSession{}
	}
	s := &fakeSession{send: send, opts: opts}
	f.sessions[peerID] = s
	return s, nil
}

func (f *fakeSFU) session(id string) *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[id]
}

func (s *fakeSession) Signal(d json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, string(d))
	if err := fakeSignalError(d); err != nil {
		return err
	}
	s.send(json.RawMessage(`{"answer":true}`))
	return nil
}

func (s *fakeSession) State() string { return "connected" }

func (s *fakeSession) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

func (s *fakeSession) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func TestAutoSwitchAndHysteresis(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 2, MeshDownDelay: 300 * time.Millisecond, SFU: &fakeSFU{}})
	a, wa := join(t, url, "grow", "A")
	if wa.Mode != "mesh" {
		t.Fatalf("first joiner mode %s", wa.Mode)
	}
	b, _ := join(t, url, "grow", "B")
	a.expect(TypePeerJoined)

	c, wc := join(t, url, "grow", "C") // mesh_max+1
	if wc.Mode != "sfu" {
		t.Fatalf("the joiner that overflows the mesh got mode %s", wc.Mode)
	}
	for _, cl := range []*client{a, b} {
		if m := cl.expect(TypeMode); m.Mode != "sfu" || m.Policy != "auto" {
			t.Fatalf("mode = %+v", m)
		}
		cl.expect(TypePeerJoined) // after mode: SFU-mode clients add no mesh link
	}

	// Down to 2 (mesh_down = max(2, 0)): back to mesh only after the delay.
	c.send(map[string]any{"type": "leave"})
	left := time.Now()
	a.expect(TypePeerLeft)
	b.expect(TypePeerLeft)
	if m := a.expect(TypeMode); m.Mode != "mesh" {
		t.Fatalf("mode = %+v", m)
	} else if d := time.Since(left); d < 250*time.Millisecond {
		t.Fatalf("returned to mesh after %v, before the hysteresis delay", d)
	}
	b.expect(TypeMode)
}

// grownToSFU joins A, B and C to room (mesh_max 2: C's join switches it)
// and reads A's messages up to C's arrival.
func grownToSFU(t *testing.T, url, room string) (a, c *client) {
	t.Helper()
	a, _ = join(t, url, room, "A")
	join(t, url, room, "B")
	a.expect(TypePeerJoined)
	c, _ = join(t, url, room, "C")
	a.expect(TypeMode)
	a.expect(TypePeerJoined)
	return a, c
}

func TestHysteresisCancelledByJoin(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 2, MeshDownDelay: 300 * time.Millisecond, SFU: &fakeSFU{}})
	a, c := grownToSFU(t, url, "flap")
	c.ws.Close()
	a.expect(TypePeerLeft)
	join(t, url, "flap", "D") // back to 3 within the delay
	if m := a.expect(TypePeerJoined); m.Peer.Name != "D" {
		t.Fatalf("got %+v", m)
	}
	a.ws.SetReadDeadline(time.Now().Add(600 * time.Millisecond))
	if _, b, err := a.ws.ReadMessage(); err == nil {
		t.Fatalf("room flapped: %s", b)
	}
}

// TestStaleMeshDownTimer: a hysteresis timer that fired while Hub.mu was
// held, and was stopped (a join) and replaced (a leave) before its
// callback got the lock, does not switch the room early.
func TestStaleMeshDownTimer(t *testing.T) {
	h, url := testHub(t, Options{MeshMax: 2, MeshDownDelay: time.Minute, SFU: &fakeSFU{}})
	a, c := grownToSFU(t, url, "stale")
	c.send(map[string]any{"type": "leave"})
	a.expect(TypePeerLeft)
	h.mu.Lock()
	r := h.rooms["stale"]
	stale := r.downWaits // the first wait; a join and a leave replace it
	r.stopDownTimer()
	h.evaluate(r, nil)
	h.mu.Unlock()
	h.meshDownExpired(r, stale) // the first timer's callback, late
	h.mu.Lock()
	mode, waiting := r.mode, r.downTimer != nil
	h.mu.Unlock()
	if mode != ModeSFU || !waiting {
		t.Fatalf("after a stale timer: mode %s, waiting %v; want sfu, still waiting", mode, waiting)
	}
}

func TestNoSFUStaysMesh(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 2})
	join(t, url, "nosfu", "A")
	join(t, url, "nosfu", "B")
	if _, w := join(t, url, "nosfu", "C"); w.Mode != "mesh" {
		t.Fatalf("mode %s without an SFU", w.Mode)
	}
}

func TestLivePolicyChanges(t *testing.T) {
	h, url := testHub(t, Options{MeshMax: 2, SFU: &fakeSFU{}})
	a, _ := join(t, url, "p", "A")
	b, _ := join(t, url, "p", "B")
	a.expect(TypePeerJoined)
	join(t, url, "p", "C")
	a.expect(TypeMode)
	a.expect(TypePeerJoined)

	// mesh-only on an SFU room of 3: nobody is thrown out, the room stays
	// SFU, new joiners are refused.
	if err := h.SetPolicy("p", PolicyMeshOnly); err != nil {
		t.Fatal(err)
	}
	if m := a.expect(TypeMode); m.Mode != "sfu" || m.Policy != "mesh-only" {
		t.Fatalf("mode = %+v", m)
	}
	d := dial(t, url)
	d.send(map[string]any{"type": "join", "v": 1, "room": "p", "name": "D"})
	d.expectError(CodeRoomFull)
	// When it fits, it becomes a mesh at once.
	b.send(map[string]any{"type": "leave"})
	a.expect(TypePeerLeft)
	if m := a.expect(TypeMode); m.Mode != "mesh" || m.Policy != "mesh-only" {
		t.Fatalf("mode = %+v", m)
	}
	if ri, _ := h.Room("p"); ri.Policy != PolicyMeshOnly || !ri.PolicySet || ri.Switches != 2 || len(ri.Peers) != 2 {
		t.Fatalf("room info = %+v", ri)
	}

	if err := h.SetPolicy("p", PolicySFUOnly); err != nil {
		t.Fatal(err)
	}
	if m := a.expect(TypeMode); m.Mode != "sfu" || m.Policy != "sfu-only" {
		t.Fatalf("mode = %+v", m)
	}
	// The global policy does not override a room an admin set.
	h.SetDefaultPolicy(PolicyMeshOnly)
	if _, w := join(t, url, "fresh", "E"); w.Policy != "mesh-only" {
		t.Fatalf("new room policy %s", w.Policy)
	}
	if ri, _ := h.Room("p"); ri.Policy != PolicySFUOnly {
		t.Fatalf("admin-set room policy overridden: %+v", ri)
	}
	if err := h.SetPolicy("nope", PolicyAuto); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("err = %v", err)
	}
}

func TestKickAndCloseRoom(t *testing.T) {
	h, url := testHub(t, Options{})
	a, _ := join(t, url, "k", "A")
	b, wb := join(t, url, "k", "B")
	a.expect(TypePeerJoined)
	if err := h.Kick(wb.ID); err != nil {
		t.Fatal(err)
	}
	b.expectError(CodeKicked)
	if code := b.expectClose(); code != websocket.ClosePolicyViolation {
		t.Fatalf("kicked close code %d", code)
	}
	if m := a.expect(TypePeerLeft); m.Reason != "kicked" {
		t.Fatalf("peer-left = %+v", m)
	}
	if err := h.Kick(wb.ID); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("second kick: %v", err)
	}
	if err := h.CloseRoom("k"); err != nil {
		t.Fatal(err)
	}
	a.expectError(CodeRoomClosed)
	if code := a.expectClose(); code != websocket.CloseNormalClosure {
		t.Fatalf("closed room close code %d", code)
	}
	if len(h.Rooms()) != 0 {
		t.Fatalf("rooms = %+v", h.Rooms())
	}
}

func TestSignalToSFU(t *testing.T) {
	sfu := &fakeSFU{}
	h, url := testHub(t, Options{SFU: sfu})
	a, wa := join(t, url, "s", "A")
	a.send(map[string]any{"type": "signal", "to": "sfu", "data": map[string]any{"description": "offer"}})
	if m := a.expect(TypeSignal); m.From != "sfu" || string(m.Data) != `{"answer":true}` {
		t.Fatalf("signal = %+v", m)
	}
	a.send(map[string]any{"type": "signal", "to": "sfu", "data": "bad"})
	a.expectError(CodeBadField)
	if ri, _ := h.Room("s"); ri.Peers[0].SFU != "connected" {
		t.Fatalf("admin view = %+v", ri)
	}
	a.ws.Close()
	waitFor(t, func() bool { return sfu.session(wa.ID).isClosed() })

	// Without an SFU, "sfu" is an unknown peer.
	_, url2 := testHub(t, Options{})
	b, _ := join(t, url2, "s", "B")
	b.send(map[string]any{"type": "signal", "to": "sfu", "data": 1})
	b.expectError(CodeUnknownPeer)
}

// TestSFUSignalSizeLimit: a browser's answer in a large SFU room is far
// over 64 KiB (≈0.75 KiB per forwarded track); the SFU takes it, while the
// same size relayed to a participant, or a signal to the SFU over its own
// bound, is refused with too-large.
func TestSFUSignalSizeLimit(t *testing.T) {
	sfu := &fakeSFU{}
	_, url := testHub(t, Options{SFU: sfu})
	a, wa := join(t, url, "big", "A")
	sdp := strings.Repeat("a=x\r\n", 230<<10/5) // ≈ 300 m-lines
	a.send(map[string]any{"type": "signal", "to": "sfu", "data": map[string]any{"description": map[string]string{"type": "answer", "sdp": sdp}}})
	if m := a.expect(TypeSignal); m.From != "sfu" {
		t.Fatalf("signal = %+v", m)
	}
	if got := sfu.session(wa.ID).got; len(got) != 1 || len(got[0]) < len(sdp) {
		t.Fatalf("the SFU got %d signals", len(got))
	}

	b, wb := join(t, url, "big", "B")
	a.expect(TypePeerJoined)
	a.send(map[string]any{"type": "signal", "to": wb.ID, "data": sdp})
	a.expectError(CodeTooLarge)
	if code := a.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	b.expect(TypePeerLeft)

	b.send(map[string]any{"type": "signal", "to": "sfu", "data": strings.Repeat("y", MaxSFUSignalBytes)})
	b.expectError(CodeTooLarge)
	if code := b.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}
