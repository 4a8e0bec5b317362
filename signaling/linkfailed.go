package signaling

import (
	"slices"
	"time"
)

// A mesh link that cannot connect heals through the SFU (docs/protocol.md
// `link-failed`), as Jitsi falls back from peer-to-peer to its bridge:
// when a client's link watchdog (web/js/mesh.js) has tried everything it
// can alone — an ICE restart, then the TURN relay if the welcome had one —
// it asks the server to carry the room through the SFU. The room switches
// with the usual make-before-break switch and is *pinned* there: the
// pinned pair is remembered, and an `auto` room does not return to mesh
// while both participants of a pinned pair are in it (their direct link
// failed once; a new mesh would fail again). The pin ends only when one of
// the two leaves — never by a timer — and then the room follows the usual
// auto rules (mesh_down for MeshDownDelay). A room cannot flap: nothing but
// a departure releases a pin, and a departure cannot bring the failed pair
// back into one mesh.

// TypeLinkFailed is a client's report that its mesh link to a peer cannot
// connect.
const TypeLinkFailed = "link-failed"

// linkFailedSpacing is the least time between two link-failed messages of
// one connection. A watchdog asks once per link after ≥ 20 s of trying, so
// an honest client never comes near it; a flood costs at most one room
// evaluation per connection and spacing.
const linkFailedSpacing = 2 * time.Second

// pair is two participants whose mesh link failed; a and b sorted.
type pair struct{ a, b string }

func newPair(x, y string) pair {
	if y < x {
		x, y = y, x
	}
	return pair{x, y}
}

func decodeLinkFailed(in inbound, req request) (request, *ProtocolError) {
	var perr *ProtocolError
	if req.to, perr = stringField(in.Peer, "peer", true); perr != nil {
		return req, perr
	}
	return req, nil
}

// linkFailed honours c's report that its mesh link to req.to cannot
// connect: in an `auto` room on a server with an SFU, the room moves to
// the SFU and is pinned there (see above). A room already on the SFU only
// records the pin. Refused for a stranger, another room's participant, a
// room whose policy is not auto, and a server without SFU.
func (h *Hub) linkFailed(c *conn, req request) *ProtocolError {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := c.room
	if r == nil { // removed (kicked, room closed) since handle checked
		return protoErr(CodeNotJoined, "send join before %s", req.typ)
	}
	to := r.member(req.to)
	if to == nil || to == c {
		return protoErr(CodeUnknownPeer, "no other participant %q in room %s", truncate(req.to, 32), r.name)
	}
	if h.opts.SFU == nil {
		return protoErr(CodeForbidden, "this server has no SFU to carry the room")
	}
	if r.policy != PolicyAuto {
		return protoErr(CodeForbidden, "room %s is %s: only an auto room moves to the SFU for a failed link", r.name, r.policy)
	}
	p := newPair(c.id, to.id)
	if !slices.Contains(r.pins, p) {
		r.pins = append(r.pins, p)
	}
	c.log.Info("mesh link failed; the room uses the SFU", "room", r.name, "peer", c.id, "target", to.id, "mode", r.mode)
	r.stopDownTimer()
	h.setMode(r, ModeSFU, false, nil)
	return nil
}

// pinnedLocked reports whether a pinned pair is still in r, forgetting
// pairs of which one has left. Hub.mu held.
func (r *room) pinnedLocked() bool {
	r.pins = slices.DeleteFunc(r.pins, func(p pair) bool { return r.member(p.a) == nil || r.member(p.b) == nil })
	return len(r.pins) > 0
}

// allowLinkFailed applies linkFailedSpacing to c (read goroutine only).
func (c *conn) allowLinkFailed(now time.Time) bool {
	if now.Sub(c.lastLinkFailed) < linkFailedSpacing {
		return false
	}
	c.lastLinkFailed = now
	return true
}
