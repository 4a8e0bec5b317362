package signaling

import (
	"testing"
	"time"
)

// roomMode reads a room's mode and pin count under the hub's lock.
func roomMode(h *Hub, name string) (Mode, int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[name]
	if r == nil {
		return 0, 0, false
	}
	return r.mode, len(r.pins), true
}

// TestLinkFailedMovesRoomToSFU: a report of a failed mesh link moves an
// auto mesh room to the SFU; it stays there however long it is small
// (no mesh-down while the pair is in it), through another join and leave,
// and returns to mesh by the usual rule only once one of the pair left.
func TestLinkFailedMovesRoomToSFU(t *testing.T) {
	const delay = 150 * time.Millisecond
	h, url := testHub(t, Options{MeshMax: 6, MeshDownDelay: delay, SFU: &fakeSFU{}})
	a, wa := join(t, url, "lf", "A")
	b, wb := join(t, url, "lf", "B")
	a.expect(TypePeerJoined)
	if wb.Mode != "mesh" {
		t.Fatalf("a room of two at mesh_max 6 is %s", wb.Mode)
	}

	a.send(map[string]any{"type": TypeLinkFailed, "peer": wb.ID})
	for _, cl := range []*client{a, b} {
		if m := cl.expect(TypeMode); m.Mode != "sfu" || m.Policy != "auto" {
			t.Fatalf("mode = %+v, want sfu (auto)", m)
		}
	}
	// B's watchdog asks too: the room is already there, nothing changes.
	b.send(map[string]any{"type": TypeLinkFailed, "peer": wa.ID})

	// Small (2 ≤ mesh_down 4) for many hysteresis delays: no flap back.
	time.Sleep(4 * delay)
	if m, pins, _ := roomMode(h, "lf"); m != ModeSFU || pins != 1 {
		t.Fatalf("after 4 hysteresis delays: mode %s with %d pins, want sfu with 1", m, pins)
	}
	c, _ := join(t, url, "lf", "C")
	a.expect(TypePeerJoined)
	b.expect(TypePeerJoined)
	c.send(map[string]any{"type": "leave"})
	a.expect(TypePeerLeft)
	b.expect(TypePeerLeft)
	time.Sleep(4 * delay)
	if m, _, _ := roomMode(h, "lf"); m != ModeSFU {
		t.Fatalf("a third participant came and went: mode %s, want still sfu", m)
	}

	// One of the pair leaves: the pin ends, the usual hysteresis applies.
	b.send(map[string]any{"type": "leave"})
	a.expect(TypePeerLeft)
	left := time.Now()
	if m := a.expect(TypeMode); m.Mode != "mesh" {
		t.Fatalf("mode = %+v, want mesh once the pair is apart", m)
	} else if d := time.Since(left); d < delay/2 {
		t.Fatalf("back to mesh after %v, before the hysteresis delay", d)
	}
	if _, pins, _ := roomMode(h, "lf"); pins != 0 {
		t.Fatalf("%d pins left after the pair split", pins)
	}
}

// TestLinkFailedRefused: only a joined participant about another member
// of its own auto room, on a server with an SFU, at most once per spacing.
func TestLinkFailedRefused(t *testing.T) {
	h, url := testHub(t, Options{MeshMax: 6, SFU: &fakeSFU{}})

	t.Run("not joined", func(t *testing.T) {
		c := dial(t, url)
		c.send(map[string]any{"type": TypeLinkFailed, "peer": "someone"})
		c.expectError(CodeNotJoined)
	})

	a, _ := join(t, url, "lr", "A")
	_, wb := join(t, url, "lr", "B")
	a.expect(TypePeerJoined)
	_, wx := join(t, url, "other", "X")

	t.Run("no peer", func(t *testing.T) {
		a.send(map[string]any{"type": TypeLinkFailed})
		a.expectError(CodeMissingField)
	})
	t.Run("wrongly cased key", func(t *testing.T) {
		a.send(map[string]any{"type": TypeLinkFailed, "Peer": wb.ID})
		a.expectError(CodeBadJSON)
	})
	t.Run("stranger", func(t *testing.T) {
		// (Messages that do not decode take no turn of the spacing.)
		a.send(map[string]any{"type": TypeLinkFailed, "peer": "nobody1234"})
		a.expectError(CodeUnknownPeer)
	})
	t.Run("another room", func(t *testing.T) {
		time.Sleep(linkFailedSpacing)
		a.send(map[string]any{"type": TypeLinkFailed, "peer": wx.ID})
		a.expectError(CodeUnknownPeer)
	})
	t.Run("rate limited", func(t *testing.T) {
		a.send(map[string]any{"type": TypeLinkFailed, "peer": wb.ID}) // within the spacing of the last
		a.expectError(CodeRateLimited)
	})
	t.Run("mesh-only", func(t *testing.T) {
		if err := h.SetPolicy("lr", PolicyMeshOnly); err != nil {
			t.Fatal(err)
		}
		if m := a.expect(TypeMode); m.Policy != "mesh-only" {
			t.Fatalf("mode = %+v", m)
		}
		time.Sleep(linkFailedSpacing)
		a.send(map[string]any{"type": TypeLinkFailed, "peer": wb.ID})
		a.expectError(CodeForbidden)
		if m, pins, _ := roomMode(h, "lr"); m != ModeMesh || pins != 0 {
			t.Fatalf("mesh-only room: mode %s with %d pins after a refused report", m, pins)
		}
	})

	t.Run("no SFU", func(t *testing.T) {
		_, url := testHub(t, Options{MeshMax: 6})
		a, _ := join(t, url, "nosfu", "A")
		_, wb := join(t, url, "nosfu", "B")
		a.expect(TypePeerJoined)
		a.send(map[string]any{"type": TypeLinkFailed, "peer": wb.ID})
		a.expectError(CodeForbidden)
	})
}
