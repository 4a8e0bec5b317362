package signaling

import (
	"fmt"
	"path"
)

// TypeE2EE is the server → client message that tells a room's members its
// end-to-end encryption changed (docs/protocol.md `e2ee`). A client that
// joined encrypted never stops encrypting because of it (docs/e2ee.md).
const TypeE2EE = "e2ee"

// e2eeMsg is TypeE2EE: e2ee false means an administrator allowed the room
// to go without end-to-end encryption.
type e2eeMsg struct {
	Type string `json:"type"`
	E2EE bool   `json:"e2ee"`
}

// unencryptedByConfig reports whether Options.UnencryptedRooms lets room go
// without end-to-end encryption. The patterns were checked at start
// (config.E2EE), so a malformed one only fails to match.
func (o *Options) unencryptedByConfig(room string) bool {
	for _, p := range o.UnencryptedRooms {
		if ok, _ := path.Match(p, room); ok {
			return true
		}
	}
	return false
}

// SetE2EE changes whether one room is end-to-end encrypted, live, and tells
// its members (`e2ee`). It lasts while the room exists; a room created
// later follows the configuration again. Clients in the call that joined
// encrypted keep encrypting (docs/e2ee.md): the change is for those who
// join next.
func (h *Hub) SetE2EE(room string, encrypted bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[room]
	if r == nil {
		return fmt.Errorf("room %q: %w", room, ErrNoRoom)
	}
	r.e2eeSet = true
	if r.unencrypted == !encrypted {
		return nil
	}
	r.unencrypted = !encrypted
	r.broadcast(encode(e2eeMsg{Type: TypeE2EE, E2EE: encrypted}), nil)
	h.log.Warn("room end-to-end encryption set by an administrator", "room", room, "e2ee", encrypted)
	return nil
}
