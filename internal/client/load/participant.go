package load

import (
	"sync"
	"sync/atomic"
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
// Ownership: room, index, name, publisher, view and downlink are fixed at
// creation; video and layers are atomic (track readers add); tiles is
// guarded by mu (the view loop writes it); steady is owned by Run; openAt,
// welcomeAt, peer and joinErr are written by the goroutine that joins it
// before joined is closed and read only after; streams is guarded by mu
// (track readers add to it); modes is owned by the progress loop.
type participant struct {
	room      int
	roomName  string
	index     int // position in the room's joining order
	name      string
	publisher bool
	view      viewSpec // what it shows (--view or --publisher-view)
	// noViewReports: the view is not sent to the SFU (--view-reports=false).
	noViewReports bool
	downlink      int // its downlink cap in bit/s; 0: none

	// videoBytes and layers count the video received: RTP payload bytes,
	// and packets per simulcast layer (layerIndex).
	videoBytes atomic.Uint64
	packets    atomic.Uint64 // every RTP packet received, audio included
	layers     [len(layerNames)]atomic.Uint64
	steady     [2]received // at the start and end of the steady window

	openAt    time.Time // just before the WebSocket dial
	welcomeAt time.Time // welcome received
	peer      *pionpeer.Peer
	joinErr   error
	joined    chan struct{} // closed when the join attempt ended

	mu      sync.Mutex
	streams map[streamKey]*stream
	tiles   []tileView // the latest layout of the forwarded videos
	viewKey string     // the forwarded tracks tiles was made for

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
	st, ok := pionpeer.ParseStamp(pkt.Payload)
	p.packets.Add(1)
	if kind == pionpeer.KindVideo {
		p.videoBytes.Add(uint64(len(pkt.Payload)))
		if ok { // not the SFU's padding probes, which carry no stamp
			p.layers[layerIndex(st.Layer)].Add(1)
		}
	}
	s.onStamp(st, ok, pkt.SSRC, pkt.SequenceNumber, at)
}

// layerNames label the simulcast layers in reports, by layerIndex; the
// last is a stream without layers (or without a stamp).
var layerNames = [...]string{"q 320×180", "h 640×360", "f 1280×720", "single"}

// layerIndex maps a stamp's layer (its RID) to layerNames.
func layerIndex(rid string) int {
	switch rid {
	case "q":
		return 0
	case "h":
		return 1
	case "f":
		return 2
	}
	return 3
}

// received is what a participant had received at one instant.
type received struct {
	videoBytes uint64
	packets    uint64
	layers     [len(layerNames)]uint64
	video      map[string]uint64 // distinct video packets per publisher id
}

// mark records what the participant has received so far.
func (p *participant) mark() received {
	m := received{videoBytes: p.videoBytes.Load(), packets: p.packets.Load(), video: map[string]uint64{}}
	for i := range p.layers {
		m.layers[i] = p.layers[i].Load()
	}
	for k, s := range p.snapshot() {
		if k.kind == pionpeer.KindVideo {
			m.video[k.from] = s.Unique
		}
	}
	return m
}

// expectsVideo says whether p should receive publisher from's video: not
// when its view hides every video, nor when its latest layout puts that
// publisher off screen (the SFU pauses video nobody sees) — unless the run
// does not report views, when the SFU forwards everything.
func (p *participant) expectsVideo(from string) bool {
	if p.noViewReports {
		return true
	}
	if p.view.mode == viewHidden {
		return false
	}
	for _, t := range p.currentTiles() {
		if t.from == from {
			return t.item.Visible
		}
	}
	return true
}

// currentTiles is the latest layout.
func (p *participant) currentTiles() []tileView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tiles
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
