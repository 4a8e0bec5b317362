package sfu

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/pion/webrtc/v4"
)

// room is the SFU's view of one room: who is attached and what they
// publish. Signaling owns the room itself (who may join, the mode); the SFU
// only learns of participants through Attach and Session.Close. Rooms are
// isolated: a track, a data-channel message or a speaker event never leaves
// its room.
//
// Ownership: mu guards every field below it. A room is created by Attach
// and removed by the Close of its last Session, both under Server.mu (lock
// order: Server.mu, then room.mu). room.mu is never held while calling into
// pion or while taking a Session's negMu: changes are announced to sessions
// by kicking their negotiation loops, which never blocks.
type room struct {
	name string
	srv  *Server
	stop chan struct{} // closed when the room is removed: ends speakerLoop

	mu        sync.Mutex // guards the fields below
	sessions  map[string]*Session
	tracks    []*upTrack // published tracks, in publication order
	nextOrder uint64
	speaker   string                            // current active speaker, "" before the first
	media     map[string]mediaState             // each participant's latest `media` payload
	labels    map[string]webrtc.DataChannelInit // data-channel options, by label, as first seen

	// Owned by the room's loop (speakerLoop), not guarded by mu: whose
	// audio a large room forwards (audio.go).
	activity map[string]int
	audible  map[string]bool
}

func newRoom(srv *Server, name string) *room {
	return &room{
		name:     name,
		srv:      srv,
		stop:     make(chan struct{}),
		sessions: map[string]*Session{},
		media:    map[string]mediaState{},
		labels:   map[string]webrtc.DataChannelInit{},
	}
}

// others returns every session except ss (nil: all). r.mu must be held.
func (r *room) others(ss *Session) []*Session {
	out := make([]*Session, 0, len(r.sessions))
	for _, o := range r.sessions {
		if o != ss {
			out = append(out, o)
		}
	}
	return out
}

// addTrack publishes u to the room. It gives u its room-unique track and
// stream ids and asks every other participant to renegotiate. It fails when
// u's owner has already left or publishes too much (the track is then not
// read).
func (r *room) addTrack(u *upTrack) error {
	r.mu.Lock()
	if r.sessions[u.owner.id] != u.owner {
		r.mu.Unlock()
		return ErrClosed
	}
	n := 0
	for _, t := range r.tracks {
		if t.owner == u.owner {
			n++
		}
	}
	if n >= maxPublishedTracks {
		r.mu.Unlock()
		return fmt.Errorf("%w: %s already publishes %d", ErrTooManyTracks, u.owner.id, n)
	}
	u.order = r.nextOrder
	r.nextOrder++
	u.trackID, u.streamID = r.uniqueIDs(u)
	r.tracks = append(r.tracks, u)
	to := r.others(u.owner)
	r.mu.Unlock()
	for _, ss := range to {
		ss.renegotiate()
	}
	return nil
}

// uniqueIDs keeps the publisher's track and stream ids (msid), which is what
// lets clients match tiles to `media` payloads, unless another participant
// already uses them: then they are prefixed with the publisher's id, so no
// participant can make its media appear under someone else's stream.
// r.mu must be held.
func (r *room) uniqueIDs(u *upTrack) (trackID, streamID string) {
	trackID, streamID = u.remote.ID(), u.remote.StreamID()
	if streamID == "" {
		streamID = u.owner.id
	}
	if trackID == "" {
		trackID = u.kind.String()
	}
	taken := func(pred func(*upTrack) bool) bool {
		for _, t := range r.tracks {
			if pred(t) {
				return true
			}
		}
		return false
	}
	if taken(func(t *upTrack) bool { return t.owner != u.owner && t.streamID == streamID }) {
		streamID = u.owner.id + "-" + streamID
	}
	for base, i := trackID, 0; taken(func(t *upTrack) bool { return t.trackID == trackID }); i++ {
		trackID = u.owner.id + "-" + base
		if i > 0 {
			trackID += "-" + strconv.Itoa(i)
		}
	}
	return trackID, streamID
}

// removeTrack withdraws u (its reader ended); the others renegotiate.
func (r *room) removeTrack(u *upTrack) {
	r.mu.Lock()
	found := false
	for i, t := range r.tracks {
		if t == u {
			r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
			found = true
			break
		}
	}
	var to []*Session
	if found {
		to = r.others(u.owner)
	}
	r.mu.Unlock()
	for _, ss := range to {
		ss.renegotiate()
	}
}

// tracksFor returns the tracks ss should receive: everyone else's.
func (r *room) tracksFor(ss *Session) []*upTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*upTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		if t.owner != ss {
			out = append(out, t)
		}
	}
	return out
}

// setMedia stores ss's `media` payload and relays it to the others as
// {"peer": id, "media": {…}}.
func (r *room) setMedia(ss *Session, m mediaState) {
	r.mu.Lock()
	if r.sessions[ss.id] != ss {
		r.mu.Unlock()
		return
	}
	r.media[ss.id] = m
	to := r.others(ss)
	r.mu.Unlock()
	msg := mustJSON(mediaMsg{Peer: ss.id, Media: m})
	for _, o := range to {
		o.send(msg)
	}
}

// greet sends a newcomer what the room already knows: every other
// participant's `media` payload and the current speaker. r.mu must be held;
// send does not block.
func (r *room) greet(ss *Session) {
	for id, m := range r.media {
		if id != ss.id {
			ss.send(mustJSON(mediaMsg{Peer: id, Media: m}))
		}
	}
	if r.speaker != "" {
		ss.send(mustJSON(speakerMsg{Speaker: r.speaker}))
	}
}
