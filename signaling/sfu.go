package signaling

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/parleyhq/parley/internal/logsafe"
)

// SFU is the media server as signaling sees it: the whole seam between the
// two. Signaling decides who is on which path; the SFU moves media and
// never learns about WebSockets. internal/server adapts sfu.Server to it.
type SFU interface {
	// Attach creates the SFU side of one participant. send delivers the
	// SFU's signal payloads to that participant and must not block.
	Attach(room, peerID string, send func(data json.RawMessage), opts SFUOptions) (SFUSession, error)
}

// SFUOptions say what a participant may do through the SFU.
type SFUOptions struct {
	// ReceiveOnly: the participant's join token denies publishing, so the
	// SFU forwards none of its media (in a mesh, the other clients drop it).
	ReceiveOnly bool
}

// SFUSession is one participant's connection to the SFU.
type SFUSession interface {
	// Signal hands the SFU a payload the client sent to "sfu". Its errors
	// wrap the sfu package's sentinels; sfuRefusal maps them to protocol
	// codes.
	Signal(data json.RawMessage) error
	// State is the connection's state (new, connecting, connected,
	// failed, closed), shown to admins as the pre-flight result.
	State() string
	// Close ends the session; the participant's tracks leave the room.
	Close()
}

// signalSFU hands a `signal` to "sfu" to c's SFU session, attaching one on
// first use. Clients attach while still in a mesh room too: that is the
// pre-flight that makes the switch to SFU a matter of adding tracks.
func (h *Hub) signalSFU(c *conn, data json.RawMessage) *ProtocolError {
	if h.opts.SFU == nil {
		return protoErr(CodeUnknownPeer, "this server has no SFU")
	}
	h.mu.Lock()
	sess, r, id := c.sfu, c.room, c.id
	opts := SFUOptions{ReceiveOnly: c.perms != nil && !c.perms.Publish}
	h.mu.Unlock()
	if r == nil {
		return protoErr(CodeNotJoined, "send join before signal")
	}
	if sess == nil {
		// Only this connection's read goroutine attaches, so there is
		// no race to attach twice; Attach builds a PeerConnection, so
		// it runs outside the lock.
		h.mu.Lock()
		rt := c.route
		h.mu.Unlock()
		s, err := h.opts.SFU.Attach(r.name, id, func(d json.RawMessage) { sendRouted(rt, d) }, opts)
		if err != nil {
			c.log.Warn("sfu attach failed", "room", r.name, "peer", id, logsafe.String("err", err.Error()))
			return protoErr(CodeInternal, "the SFU could not take this connection")
		}
		h.mu.Lock()
		if c.room == nil { // left meanwhile
			h.mu.Unlock()
			s.Close()
			return nil
		}
		c.sfu = s
		h.mu.Unlock()
		sess = s
	}
	if err := sess.Signal(data); err != nil {
		perr, clientFault := sfuRefusal(err)
		level := slog.LevelWarn
		if clientFault {
			level = slog.LevelDebug
		}
		// The error may quote the client's SDP: capped (internal/logsafe).
		c.log.Log(context.Background(), level, "sfu refused a signal", "room", r.name, "peer", id, "code", perr.Code, logsafe.String("err", err.Error()))
		return perr
	}
	return nil
}

// detachSFU closes c's SFU session, if any. Called without Hub.mu held.
func detachSFU(s SFUSession) {
	if s != nil {
		s.Close()
	}
}
