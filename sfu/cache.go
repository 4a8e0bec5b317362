package sfu

import (
	"sync"

	"github.com/pion/rtcp"
)

// Retransmission (RFC 4585 §6.2.1 generic NACK, RFC 4588 not negotiated:
// the packet is sent again on its own SSRC with its own sequence number).
//
// Every subscriber of a track receives the same payload under its own
// header, so one cache per published track serves them all: the cache
// holds a reference to the pooled packet the reader already has (no copy,
// no allocation), and a subscriber's NACK is turned back into the
// publisher's sequence number by that subscriber's writer, which owns the
// offsets, and re-sent with the subscriber's header. Memory is
// cacheSize packets per published video track, whatever the number of
// subscribers.

// cacheSize is how many packets a published video track keeps for
// retransmission (a power of two, for the index). 512 packets is ≈3.4 s of
// a 1.5 Mbit/s camera (≈150 packets/s) and ≈1 s of a 5 Mbit/s screen share:
// several round trips even on a poor link. A NACK older than that is better
// answered by a key frame, which the subscriber asks for by itself. Cost:
// ≈800 KiB per published video track.
const cacheSize = 512

// maxNACKedPerReport bounds the retransmissions one NACK report can cause:
// a subscriber cannot make the SFU burst a whole cache at it. 64 covers any
// real loss burst (four NACK pairs' worth).
const maxNACKedPerReport = 64

// packetCache holds the last cacheSize packets of a track, by sequence
// number. mu guards slots; the reader adds once per packet, writers look
// up only on a NACK, so the lock is not contended.
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]*packet
}

// add keeps a reference to p, evicting the packet cacheSize sequence
// numbers older.
func (c *packetCache) add(p *packet) {
	p.refs.Add(1)
	i := p.hdr.SequenceNumber % cacheSize
	c.mu.Lock()
	old := c.slots[i]
	c.slots[i] = p
	c.mu.Unlock()
	if old != nil {
		old.release()
	}
}

// get returns the packet with sequence number seq of source ssrc, with a
// reference the caller must release, or nil when it is no longer (or never
// was) in the cache.
func (c *packetCache) get(ssrc uint32, seq uint16) *packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.slots[seq%cacheSize]
	if p == nil || p.hdr.SequenceNumber != seq || p.hdr.SSRC != ssrc {
		return nil
	}
	p.refs.Add(1) // safe: the cache's own reference keeps p alive under mu
	return p
}

// clear drops every reference (the track ended).
func (c *packetCache) clear() {
	c.mu.Lock()
	slots := c.slots
	c.slots = [cacheSize]*packet{}
	c.mu.Unlock()
	for _, p := range slots {
		if p != nil {
			p.release()
		}
	}
}

// onNACK queues a subscriber's NACKed sequence numbers for its writer,
// which owns the mapping back to the publisher's numbers. Never blocks: a
// subscriber whose queue is full is too congested for retransmissions.
func (d *downTrack) onNACK(n *rtcp.TransportLayerNack) {
	if d.up.cache == nil {
		return
	}
	budget := maxNACKedPerReport
	for _, pair := range n.Nacks {
		pair.Range(func(seq uint16) bool {
			if budget == 0 {
				return false
			}
			budget--
			select {
			case d.sub.queue <- fwd{d: d, nack: true, seq: seq}:
			default:
				budget = 0
			}
			return budget > 0
		})
	}
}

// resend answers one NACKed sequence number (in the subscriber's numbering)
// from the cache. Runs on the subscriber's writer goroutine.
func (d *downTrack) resend(subSeq uint16) {
	b := d.bind.Load()
	if b == nil || !d.rw.started || !d.sub.connected.Load() {
		return
	}
	p := d.up.cache.get(d.rw.src, subSeq-d.rw.seqOff)
	if p == nil {
		return
	}
	defer p.release()
	// Same offsets as when it was first sent: the same numbers again.
	if d.send(b, p, p.hdr.SequenceNumber+d.rw.seqOff, p.hdr.Timestamp+d.rw.tsOff) {
		d.up.srv.ctr.nacksServed.Add(1)
	}
}
