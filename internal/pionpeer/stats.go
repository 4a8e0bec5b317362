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
	// First and Last are when the first and latest packets arrived; zero
	// before any.
	First time.Time
	Last  time.Time
}

type trackKey struct {
	peer string
	kind Kind
}

// counter is updated by a track's reader goroutine and read by Stats, so
// every field is atomic: no lock on the per-packet path.
type counter struct {
	packets, bytes, stamped atomic.Uint64
	first, last             atomic.Int64 // UnixNano; 0 = never
}

func (c *counter) add(payloadBytes int, stamped bool, at time.Time) {
	ns := at.UnixNano()
	c.first.CompareAndSwap(0, ns)
	c.last.Store(ns)
	c.packets.Add(1)
	c.bytes.Add(uint64(payloadBytes))
	if stamped {
		c.stamped.Add(1)
	}
}

func (c *counter) snapshot(k trackKey) TrackStats {
	s := TrackStats{
		Peer:    k.peer,
		Kind:    k.kind,
		Packets: c.packets.Load(),
		Bytes:   c.bytes.Load(),
		Stamped: c.stamped.Load(),
	}
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

// Received is the number of RTP packets of kind received from remote.
func (p *Peer) Received(remote string, kind Kind) uint64 {
	p.mu.Lock()
	c := p.counters[trackKey{remote, kind}]
	p.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.packets.Load()
}

// counterFor returns the counter for (remote, kind), creating it.
func (p *Peer) counterFor(remote string, kind Kind) *counter {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := trackKey{remote, kind}
	c := p.counters[k]
	if c == nil {
		c = &counter{}
		p.counters[k] = c
	}
	return c
}
