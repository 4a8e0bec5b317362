package signaling

import (
	"encoding/json"
	"testing"
	"time"
)

// stallSFU gives sessions whose State blocks until release is closed: an
// SFU stuck inside pion.
type stallSFU struct {
	fakeSFU
	release chan struct{}
}

type stallSession struct {
	*fakeSession
	release chan struct{}
}

func (s stallSession) State() string {
	<-s.release
	return "connected"
}

func (f *stallSFU) Attach(room, peerID string, send func(json.RawMessage), opts SFUOptions) (SFUSession, error) {
	s, err := f.fakeSFU.Attach(room, peerID, send, opts)
	if err != nil {
		return nil, err
	}
	return stallSession{s.(*fakeSession), f.release}, nil
}

// TestSnapshotsDuringStalledSFU: while the SFU's state call hangs, a
// metrics scrape's snapshot and an admin snapshot each return within
// 100 ms (the admin one shows the state as unknown), and the hub goes on
// admitting and relaying: it does not wait on the SFU under its lock.
func TestSnapshotsDuringStalledSFU(t *testing.T) {
	sfu := &stallSFU{release: make(chan struct{})}
	h, url := testHub(t, Options{SFU: sfu})
	defer close(sfu.release)
	a, _ := join(t, url, "s", "A")
	a.send(map[string]any{"type": "signal", "to": "sfu", "data": map[string]any{"description": "offer"}})
	a.expect(TypeSignal)

	for range maxStateProbes + 2 { // past the probes a stuck SFU keeps
		rooms := within(t, "admin snapshot", h.Rooms)
		if len(rooms) != 1 || len(rooms[0].Peers) != 1 || rooms[0].Peers[0].SFU != sfuUnknown {
			t.Fatalf("admin snapshot %+v, want A with SFU %q", rooms, sfuUnknown)
		}
	}
	if ri := within(t, "one room's snapshot", func() []RoomInfo { ri, _ := h.Room("s"); return []RoomInfo{ri} }); ri[0].Peers[0].SFU != sfuUnknown {
		t.Fatalf("Room = %+v", ri)
	}
	if rooms := within(t, "metrics snapshot", h.RoomCounts); len(rooms) != 1 || len(rooms[0].Peers) != 1 {
		t.Fatalf("metrics snapshot %+v", rooms)
	}
	b, wb := join(t, url, "s", "B")
	a.expect(TypePeerJoined)
	a.send(map[string]any{"type": "signal", "to": wb.ID, "data": 1})
	b.expect(TypeSignal)
}

// within runs snap and fails the test if it takes over 100 ms.
func within(t *testing.T, what string, snap func() []RoomInfo) []RoomInfo {
	t.Helper()
	done := make(chan []RoomInfo, 1)
	start := time.Now()
	go func() { done <- snap() }()
	select {
	case rooms := <-done:
		return rooms
	case <-time.After(100 * time.Millisecond):
		t.Fatalf("%s still waiting after %v: a stalled SFU call holds it up", what, time.Since(start).Round(time.Millisecond))
		return nil
	}
}
