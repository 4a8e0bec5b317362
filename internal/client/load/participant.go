package load

import (
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/pion/rtp"
)

// streamKey names one remote track as a subscriber sees it.
type streamKey struct {
	from string
	kind pionpeer.Kind
}

// participant is one synthetic participant of the run.
//
// Ownership: room, index, name and publisher are fixed at creation; openAt,
// welcomeAt, peer and joinErr are written by the goroutine that joins it
// before joined is closed and read only after; streams is guarded by mu
// (track readers add to it); modes is owned by the progress loop.
type participant struct {
	room      int
	roomName  string
	index     int // position in the room's joining order
	name      string
	publisher bool

	openAt    time.Time // just before the WebSocket dial
	welcomeAt time.Time // welcome received
	peer      *pionpeer.Peer
	joinErr   error
	joined    chan struct{} // closed when the join attempt ended

	mu      sync.Mutex
	streams map[streamKey]*stream

	lastMode    string
	modeChanges int
}

// onPacket is pionpeer's OnPacket hook, on a track reader's goroutine.
func (p *participant) onPacket(from string, kind pionpeer.Kind, pkt *rtp.Packet, at time.Time) {
	k := streamKey{from, kind}
	p.mu.Lock()
	s := p.streams[k]
	if s == nil {
		s = &stream{}
		p.streams[k] = s
	}
	p.mu.Unlock()
	s.onPacket(pkt.Payload, at)
}

// snapshot returns the participant's streams' statistics.
func (p *participant) snapshot() map[streamKey]streamStats {
	p.mu.Lock()
	streams := make(map[streamKey]*stream, len(p.streams))
	for k, s := range p.streams {
		streams[k] = s
	}
	p.mu.Unlock()
	out := make(map[streamKey]streamStats, len(streams))
	for k, s := range streams {
		out[k] = s.stats()
	}
	return out
}

// ok says the participant joined.
func (p *participant) ok() bool { return p.peer != nil }
