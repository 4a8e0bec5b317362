package sfu

import (
	"cmp"
	"slices"
	"strings"

	"github.com/pion/webrtc/v4"
)

// What each participant receives, for the admin API: its downlink
// estimate and, per forwarded video track, the layer it gets now or why it
// gets none.

// Receiving is one subscriber's downlink as the SFU serves it.
type Receiving struct {
	// Estimate is the downlink estimate in bits/s the allocation last
	// used; 0 when the SFU does not adapt to this subscriber (adaptation
	// off, or no transport-cc feedback yet).
	Estimate int64           `json:"estimate"`
	Video    []ReceivedVideo `json:"video"`
}

// ReceivedVideo is one forwarded video track.
type ReceivedVideo struct {
	Peer  string `json:"peer"`  // its publisher
	Track string `json:"track"` // its track id, as in `tracks`
	// Layer is the simulcast layer forwarded now (0 lowest; always 0
	// without simulcast), -1 when none is.
	Layer  int    `json:"layer"`
	RID    string `json:"rid,omitempty"`
	Layers int    `json:"layers"` // how many layers the publisher sends
	// Temporal is the highest temporal layer (VP8 TID) of Layer
	// forwarded, of Temporals it has (1 without temporal layers): with
	// L1T3, 0 is a quarter of its frame rate, 1 half, 2 all (temporal.go).
	Temporal  int `json:"temporal"`
	Temporals int `json:"temporals"`
	// Want is the layer the subscriber's view asks for (view.go), before
	// its downlink and what flows decide: -1 when it does not show the
	// tile. Layer below Want says the SFU is falling back.
	Want int `json:"want"`
	// Paused says why nothing is forwarded: "view" (the subscriber
	// cannot see it) or "bandwidth" (alloc.go); empty while it flows or
	// before its first key frame.
	Paused string `json:"paused,omitempty"`
}

// Receiving returns, by participant id, what each participant of room
// receives; nil for a room the SFU does not have. Cheap: atomic loads and
// the sessions' negMu, no pion call.
func (s *Server) Receiving(roomName string) map[string]Receiving {
	s.mu.Lock()
	r := s.rooms[roomName]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	sessions := r.others(nil)
	r.mu.Unlock()
	out := make(map[string]Receiving, len(sessions))
	for _, ss := range sessions {
		out[ss.id] = ss.receiving()
	}
	return out
}

func (ss *Session) receiving() Receiving {
	rc := Receiving{Estimate: ss.dl.last.Load(), Video: []ReceivedVideo{}}
	for _, d := range ss.downTracks() {
		u := d.up
		if u.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		v := ReceivedVideo{Peer: u.owner.id, Track: u.trackID, Layer: int(d.cur.Load()), Layers: u.nLayers, Want: ss.wantedLayer(u, ss.srv.now())}
		v.Temporals = 1
		if l := u.layer(v.Layer); l != nil {
			v.RID, v.Temporals = l.rid, l.temporalLayers()
		}
		v.Temporal = min(int(d.ttarget.Load()), v.Temporals-1)
		u.mu.Lock()
		switch {
		case d.target.Load() >= 0:
		case d.pausedBW:
			v.Paused = "bandwidth"
		default:
			v.Paused = "view"
		}
		u.mu.Unlock()
		if v.Paused != "" {
			v.Layer, v.RID, v.Temporal, v.Temporals = -1, "", 0, 1
		}
		rc.Video = append(rc.Video, v)
	}
	slices.SortFunc(rc.Video, func(a, b ReceivedVideo) int {
		return cmp.Or(strings.Compare(a.Peer, b.Peer), strings.Compare(a.Track, b.Track))
	})
	return rc
}
