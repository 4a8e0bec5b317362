package pionpeer

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"
)

// TrackStats counts what one remote participant sent this one on one kind of
// track. It outlives the remote: after peer-left the totals stay readable.
type TrackStats struct {
	// Peer is the remote participant's id.
	Peer string
	// Kind is audio or video.
	Kind Kind
	// Packets and Bytes (RTP payload bytes) received.
	Packets uint64
	Bytes   uint64
	// Stamped counts packets whose payload ended with an intact Stamp:
	// proof that the payload crossed every hop unmodified.
	Stamped uint64
	// KeyFrames counts VP8 key frames begun (the first packet of a frame
	// whose P bit is clear); 0 for audio.
	KeyFrames uint64
	// First and Last are when the first and latest packets arrived; zero
	// before any.
	First time.Time
	Last  time.Time
}

type trackKey struct {
	peer string
	kind Kind
}

// pathKey counts one (remote, kind) on one path: what the switch logic
// looks at to tell whether the new path delivers.
type pathKey struct {
	peer string
	kind Kind
	path Path
}

// counter is updated by a track's reader goroutine and read by Stats, so
// every field is atomic: no lock on the per-packet path.
//
// It counts packets without a stamp rather than with one, so that a
// snapshot taken while a packet is being counted never shows more stamped
// packets than packets, nor fewer for an all-stamped stream (Stamped ==
// Packets is what tests check): add increments packets first, snapshot
// loads unstamped first.
type counter struct {
	packets, bytes, unstamped, keyFrames atomic.Uint64
	first, last                          atomic.Int64 // UnixNano; 0 = never
}

func (c *counter) add(payloadBytes int, stamped, keyFrame bool, at time.Time) {
	ns := at.UnixNano()
	c.first.CompareAndSwap(0, ns)
	c.last.Store(ns)
	c.packets.Add(1)
	c.bytes.Add(uint64(payloadBytes))
	if !stamped {
		c.unstamped.Add(1)
	}
	if keyFrame {
		c.keyFrames.Add(1)
	}
}

// lastAt is when the latest packet arrived; zero before any.
func (c *counter) lastAt() time.Time {
	if ns := c.last.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (c *counter) snapshot(k trackKey) TrackStats {
	unstamped := c.unstamped.Load() // before packets: see counter
	s := TrackStats{
		Peer:      k.peer,
		Kind:      k.kind,
		Packets:   c.packets.Load(),
		Bytes:     c.bytes.Load(),
		KeyFrames: c.keyFrames.Load(),
	}
	s.Stamped = s.Packets - min(unstamped, s.Packets)
	if ns := c.first.Load(); ns != 0 {
		s.First = time.Unix(0, ns)
	}
	if ns := c.last.Load(); ns != 0 {
		s.Last = time.Unix(0, ns)
	}
	return s
}

// Stats returns a snapshot of every (remote, kind) this participant has
// received from, sorted by remote id then kind.
func (p *Peer) Stats() []TrackStats {
	p.mu.Lock()
	out := make([]TrackStats, 0, len(p.counters))
	for k, c := range p.counters {
		out = append(out, c.snapshot(k))
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b TrackStats) int {
		return cmp.Or(cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// Received is the number of RTP packets of kind received from remote,
// over every path: the same count in a mesh, in an SFU room and across
// switches.
func (p *Peer) Received(remote string, kind Kind) uint64 {
	p.mu.Lock()
	c := p.counters[trackKey{remote, kind}]
	p.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.packets.Load()
}

// ReceivedVia is the number of RTP packets of kind received from remote
// over one path: tests of the switch use it to see which path carries
// media.
func (p *Peer) ReceivedVia(remote string, kind Kind, path Path) uint64 {
	p.mu.Lock()
	c := p.viaCounters[pathKey{remote, kind, path}]
	p.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.packets.Load()
}

// KeyFramesReceived is the number of VP8 key frames begun in video from
// remote, over every path.
func (p *Peer) KeyFramesReceived(remote string) uint64 {
	p.mu.Lock()
	c := p.counters[trackKey{remote, KindVideo}]
	p.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.keyFrames.Load()
}

// countersFor returns the total counter for (remote, kind) and the one for
// that path, creating them.
func (p *Peer) countersFor(remote string, kind Kind, path Path) (total, via *counter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := trackKey{remote, kind}
	if total = p.counters[k]; total == nil {
		total = &counter{}
		p.counters[k] = total
	}
	pk := pathKey{remote, kind, path}
	if via = p.viaCounters[pk]; via == nil {
		via = &counter{}
		p.viaCounters[pk] = via
	}
	return total, via
}

// lastVia is when the latest packet of kind from remote arrived over path;
// zero before any. p.mu must be held.
func (p *Peer) lastViaLocked(remote string, kind Kind, path Path) time.Time {
	if c := p.viaCounters[pathKey{remote, kind, path}]; c != nil {
		return c.lastAt()
	}
	return time.Time{}
}
