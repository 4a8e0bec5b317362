package signaling

import "testing"

// TestWelcomeE2EE: rooms are encrypted unless Options.UnencryptedRooms
// names them; an admin's SetE2EE reaches every member (`e2ee`) and the
// welcome of those who join next, and the room vanishes with its setting.
func TestWelcomeE2EE(t *testing.T) {
	hub, url := testHub(t, Options{UnencryptedRooms: []string{"load-*", "bench"}})
	e2eeOf := func(m msg) bool {
		t.Helper()
		if m.E2EE == nil {
			t.Fatalf("%s without e2ee", m.Type)
		}
		return *m.E2EE
	}
	for room, want := range map[string]bool{"meeting": true, "load-1": false, "bench": false, "benchmark": true} {
		c, w := join(t, url, room, "A")
		if got := e2eeOf(w); got != want {
			t.Errorf("room %s: welcome e2ee %v, want %v", room, got, want)
		}
		c.ws.Close()
	}

	a, _ := join(t, url, "talk", "A")
	if err := hub.SetE2EE("talk", false); err != nil {
		t.Fatal(err)
	}
	if m := a.expect(TypeE2EE); e2eeOf(m) {
		t.Fatalf("e2ee message says encrypted after SetE2EE(false)")
	}
	b, wb := join(t, url, "talk", "B")
	if e2eeOf(wb) {
		t.Error("a joiner after SetE2EE(false) was told the room is encrypted")
	}
	a.expect(TypePeerJoined)
	if ri, _ := hub.Room("talk"); ri.E2EE || !ri.E2EESet {
		t.Errorf("room info %+v, want e2ee false set by an admin", ri)
	}
	if err := hub.SetE2EE("talk", true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if m := c.expect(TypeE2EE); !e2eeOf(m) {
			t.Error("e2ee message says unencrypted after SetE2EE(true)")
		}
	}
	if err := hub.SetE2EE("nowhere", false); err == nil {
		t.Error("SetE2EE of a room that does not exist succeeded")
	}
}
