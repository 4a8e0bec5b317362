package signaling

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gorilla/websocket"
)

// Errors of the admin operations, for the admin API to map to HTTP codes.
var (
	// ErrNoRoom means no room of that name exists (rooms vanish when empty).
	ErrNoRoom = errors.New("no such room")
	// ErrNoPeer means no participant has that id.
	ErrNoPeer = errors.New("no such participant")
)

// PeerInfo describes one participant for admins.
type PeerInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Path is the participant's media path: the room's mode.
	Path Mode `json:"path"`
	// SFU is the state of its SFU connection: "none" before the client
	// made one, else the pre-flight or live connection's state.
	SFU string `json:"sfu"`
	// Viewer and Moderator come from its join token (docs/access.md).
	Viewer    bool `json:"viewer,omitempty"`
	Moderator bool `json:"moderator,omitempty"`
}

// RoomInfo is a snapshot of one room, for the admin API and tests.
type RoomInfo struct {
	Name      string `json:"name"`
	Mode      Mode   `json:"mode"`
	Policy    Policy `json:"policy"`
	PolicySet bool   `json:"policySet"` // an admin set this room's policy
	Switches  int    `json:"switches"`
	// DecryptFailures and DecryptedFrames add up the E2EE counts the
	// room's clients reported in `stats` messages.
	DecryptFailures uint64     `json:"decryptFailures"`
	DecryptedFrames uint64     `json:"decryptedFrames"`
	Peers           []PeerInfo `json:"participants"`

	// E2EE is false in a room allowed unencrypted (e2ee.go); E2EESet
	// says an admin set it for this room.
	E2EE    bool `json:"e2ee"`
	E2EESet bool `json:"e2eeSet"`
	// Node is the cluster node holding the room (docs/cluster.md); empty
	// on a single node.
	Node string `json:"node,omitempty"`
}

// Rooms returns a snapshot of every room, sorted by name, with each
// participant's SFU state (snapshot.go: asked for outside Hub.mu, and not
// waited for long).
func (h *Hub) Rooms() []RoomInfo {
	rooms, sessions := h.snapshot()
	h.fillSFUStates(rooms, sessions)
	return rooms
}

// RoomCounts is Rooms without the participants' SFU states (PeerInfo.SFU
// is empty): what metrics need, without asking the SFU anything on every
// scrape.
func (h *Hub) RoomCounts() []RoomInfo {
	rooms, _ := h.snapshot()
	return rooms
}

// Room returns a snapshot of one room.
func (h *Hub) Room(name string) (RoomInfo, error) {
	h.mu.Lock()
	r := h.rooms[name]
	if r == nil {
		h.mu.Unlock()
		return RoomInfo{}, fmt.Errorf("room %q: %w", name, ErrNoRoom)
	}
	rooms := []RoomInfo{r.info()}
	sessions := map[string][]SFUSession{name: r.sessions()}
	h.mu.Unlock()
	h.fillSFUStates(rooms, sessions)
	return rooms[0], nil
}

// snapshot copies every room under Hub.mu, sorted by name, with each
// room's SFU sessions in the order of its PeerInfos, for the caller to ask
// outside the lock.
func (h *Hub) snapshot() ([]RoomInfo, map[string][]SFUSession) {
	h.mu.Lock()
	rooms := make([]RoomInfo, 0, len(h.rooms))
	sessions := make(map[string][]SFUSession, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r.info())
		sessions[r.name] = r.sessions()
	}
	h.mu.Unlock()
	slices.SortFunc(rooms, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return rooms, sessions
}

// sessions is every member's SFU session (nil for none), in joining
// order. Hub.mu held.
func (r *room) sessions() []SFUSession {
	ss := make([]SFUSession, len(r.members))
	for i, m := range r.members {
		ss[i] = m.sfu
	}
	return ss
}

// info copies r for a snapshot, without SFU states. Hub.mu held.
func (r *room) info() RoomInfo {
	ri := RoomInfo{
		Name: r.name, Mode: r.mode, Policy: r.policy, PolicySet: r.policySet, Switches: r.switches,
		DecryptFailures: r.decryptFailures, DecryptedFrames: r.decryptedFrames,
		E2EE: !r.unencrypted, E2EESet: r.e2eeSet,
	}
	for _, m := range r.members {
		p := m.peer()
		ri.Peers = append(ri.Peers, PeerInfo{ID: p.ID, Name: p.Name, Path: r.mode, Viewer: p.Viewer, Moderator: p.Moderator})
	}
	return ri
}

// DefaultPolicy is the policy of rooms no admin has set one for.
func (h *Hub) DefaultPolicy() Policy {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.policy
}

// SetDefaultPolicy changes the global policy, live: new rooms get it, and so
// does every room whose policy no admin has set.
func (h *Hub) SetDefaultPolicy(p Policy) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.policy = p
	for _, r := range h.rooms {
		if !r.policySet {
			h.applyPolicy(r, p)
		}
	}
	h.log.Info("global policy set", "policy", p)
}

// SetPolicy changes one room's policy, live.
func (h *Hub) SetPolicy(room string, p Policy) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[room]
	if r == nil {
		return fmt.Errorf("room %q: %w", room, ErrNoRoom)
	}
	r.policySet = true
	h.applyPolicy(r, p)
	h.log.Info("room policy set", "room", room, "policy", p)
	return nil
}

func (h *Hub) applyPolicy(r *room, p Policy) {
	if r.policy == p {
		return
	}
	r.policy = p
	before := r.mode
	h.evaluate(r, nil)
	if r.mode == before { // evaluate announced nothing; the policy still changed
		h.setMode(r, r.mode, true, nil)
	}
}

// Kick removes a participant: it is told why and disconnected, and the
// others see it leave with reason "kicked".
func (h *Hub) Kick(peerID string) error {
	h.mu.Lock()
	c := h.peers[peerID]
	if c == nil {
		h.mu.Unlock()
		return fmt.Errorf("participant %q: %w", peerID, ErrNoPeer)
	}
	done := h.kickLocked(c, "you were removed from the room by an administrator")
	h.mu.Unlock()
	done()
	return nil
}

// kickLocked removes c from its room for good (an administrator's Kick or
// a moderator's): c is told why, the others see it leave with reason
// "kicked". Hub.mu held; the returned function closes c's SFU session and
// connection and must be called once the lock is released.
func (h *Hub) kickLocked(c *conn, message string) (done func()) {
	c.removed.Store(true) // its next frame must not join again before the close goes out
	c.send(encode(errorMsg{Type: TypeError, Code: CodeKicked, Message: message}))
	sess := h.leaveLocked(c, "kicked")
	return func() {
		detachSFU(sess)
		c.closeWith(websocket.ClosePolicyViolation, "kicked")
	}
}

// CloseRoom ends a room: everyone in it is told and disconnected.
func (h *Hub) CloseRoom(name string) error {
	notice := encode(errorMsg{Type: TypeError, Code: CodeRoomClosed, Message: "an administrator closed this room"})
	n, ok := h.emptyRoom(name, notice, "closed", websocket.CloseNormalClosure, "room closed")
	if !ok {
		return fmt.Errorf("room %q: %w", name, ErrNoRoom)
	}
	h.log.Info("room closed by admin", "room", name, "participants", n)
	return nil
}

// emptyRoom sends every participant of a room notice, makes them leave
// (reason in peer-left) and closes their sockets with code and text, the
// SFU detached outside Hub.mu: what closing a room and evicting it have in
// common. It returns how many were in the room, or false for no such room.
func (h *Hub) emptyRoom(name string, notice []byte, reason string, code int, text string) (int, bool) {
	h.mu.Lock()
	r := h.rooms[name]
	if r == nil {
		h.mu.Unlock()
		return 0, false
	}
	members := slices.Clone(r.members)
	sessions := make([]SFUSession, 0, len(members))
	for _, c := range members {
		c.removed.Store(true)
		c.send(notice)
		sessions = append(sessions, h.leaveLocked(c, reason))
	}
	h.mu.Unlock()
	for i, c := range members {
		detachSFU(sessions[i])
		c.closeWith(code, text)
	}
	return len(members), true
}
