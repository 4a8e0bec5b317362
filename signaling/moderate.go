package signaling

// Moderation from inside a room (docs/protocol.md `moderate`, `muted`): a
// participant whose join token grants admin may mute or remove another
// participant of its room. The admin API (admin.go) does the same for any
// room from outside.

// Moderation actions.
const (
	ActionMute = "mute" // ask the participant's client to turn its microphone off
	ActionKick = "kick" // remove the participant from the room
)

type mutedMsg struct {
	Type string `json:"type"`
	By   Peer   `json:"by"`
}

func decodeModerate(in inbound, req request) (request, *ProtocolError) {
	var perr *ProtocolError
	if req.action, perr = stringField(in.Action, "action", true); perr != nil {
		return req, perr
	}
	if req.action != ActionMute && req.action != ActionKick {
		return req, protoErr(CodeBadField, "action must be %q or %q", ActionMute, ActionKick)
	}
	if req.to, perr = stringField(in.To, "to", true); perr != nil {
		return req, perr
	}
	return req, nil
}

// moderate carries out a moderator's action on another participant of its
// room. A muted client is asked, not forced: it turns its microphone off
// and may turn it on again, as in every conferencing tool (the server
// never sees media it could silence).
func (h *Hub) moderate(c *conn, req request) *ProtocolError {
	h.mu.Lock()
	r := c.room
	if r == nil { // removed (kicked, room closed) since handle checked
		h.mu.Unlock()
		return protoErr(CodeNotJoined, "send join before %s", req.typ)
	}
	if c.perms == nil || !c.perms.Admin {
		h.mu.Unlock()
		return protoErr(CodeForbidden, "only a moderator (a join token with admin) may %s participants", verb(req.action))
	}
	to := r.member(req.to)
	if to == nil || to == c {
		h.mu.Unlock()
		return protoErr(CodeUnknownPeer, "no other participant %q in room %s", truncate(req.to, 32), r.name)
	}
	by := c.peer()
	if req.action == ActionMute {
		to.send(encode(mutedMsg{Type: TypeMuted, By: by}))
		h.mu.Unlock()
		c.log.Info("moderator muted a participant", "room", r.name, "peer", c.id, "target", to.id)
		return nil
	}
	done := h.kickLocked(to, by.Name+" removed you from the room")
	h.mu.Unlock()
	done()
	c.log.Info("moderator removed a participant", "room", r.name, "peer", c.id, "target", to.id)
	return nil
}

func verb(action string) string {
	if action == ActionKick {
		return "remove"
	}
	return "mute"
}
