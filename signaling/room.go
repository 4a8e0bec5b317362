package signaling

import (
	"fmt"
	"slices"
	"time"
)

// room is one conversation. Every field is guarded by Hub.mu: the Hub is the
// single owner of room state.
type room struct {
	name      string
	policy    Policy
	policySet bool // set by an admin for this room; the global policy no longer applies
	mode      Mode
	members   []*conn     // in joining order
	downTimer *time.Timer // running while an auto SFU room is small enough for mesh
	downWaits uint64      // numbers the downTimers, so a stale one can tell
	switches  int         // mode changes since the room was created
	pins      []pair      // pairs whose mesh link failed: an auto room stays SFU while one is in it (linkfailed.go)
	mls       mlsRoom     // the MLS Delivery Service's state (mls.go)

	unencrypted bool // clients do not encrypt end to end (e2ee.go)
	e2eeSet     bool // an admin set unencrypted; the configuration no longer applies

	// E2EE health reported by clients (`stats`), without identities.
	decryptFailures uint64
	decryptedFrames uint64
}

// admit refuses a joiner the room's policy or size has no place for.
func (r *room) admit(o Options) *ProtocolError {
	n := len(r.members)
	if r.policy == PolicyMeshOnly && n >= o.MeshMax {
		return &ProtocolError{Code: CodeRoomFull, Message: fmt.Sprintf("this room is limited to %d participants (mesh-only mode)", o.MeshMax)}
	}
	if n >= o.RoomMax {
		return &ProtocolError{Code: CodeRoomFull, Message: fmt.Sprintf("this room is full (%d participants)", o.RoomMax)}
	}
	return nil
}

func (r *room) member(id string) *conn {
	for _, m := range r.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (r *room) remove(c *conn) {
	if i := slices.Index(r.members, c); i >= 0 {
		r.members = slices.Delete(r.members, i, i+1)
	}
}

// broadcast queues msg for every member but except.
func (r *room) broadcast(msg []byte, except *conn) {
	for _, m := range r.members {
		if m != except {
			m.send(msg)
		}
	}
}
