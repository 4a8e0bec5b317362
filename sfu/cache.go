package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Retransmission (RFC 4585 §6.2.1 generic NACK, RFC 4588 not negotiated:
// the packet is sent again on its own SSRC with its own sequence number).
//
// Every subscriber of a track receives the same payload under its own
// header, so one cache per published video layer serves them all: the cache
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

// Retransmission limits. Without them NACKs feed on themselves under
// overload: loss brings NACKs, receivers repeat them every 100 ms (pion) or
// every round trip (browsers) until the packet arrives, each one cost a
// retransmission, and the retransmissions caused more loss. Measured on this
// 2-core machine with the load tool beside the server (K = 12 rooms of 8):
// the SFU then spent more CPU resending than forwarding, at 39 µs per
// delivered packet instead of 9, delivered a third of the media and did
// not recover while the load stayed (docs/benchmarks.md).
const (
	// nackCongested: a subscriber with more packets than this waiting in
	// its queue gets no retransmissions. A resent packet would wait behind
	// them and add to the backlog that lost it; the receiver's repeated
	// NACK, or its key-frame request, recovers once the queue drains.
	nackCongested = writeQueueLen / 4

	// maxResendAge: a packet that reached the SFU longer ago than this is
	// not resent. The receiver's jitter buffer has moved on; a key frame
	// serves it better.
	maxResendAge = time.Second

	// resendInterval: the same packet is not resent to the same subscriber
	// again within this time. A receiver repeats its NACK while the first
	// retransmission is still on its way.
	resendInterval = 100 * time.Millisecond

	// maxResends: at most this many retransmissions of one packet to one
	// subscriber.
	maxResends = 3

	// resendLogSize is how many recent retransmissions a downTrack
	// remembers (by sequence number modulo the size): four NACK reports'
	// worth, half the packet cache.
	resendLogSize = 4 * maxNACKedPerReport
)

// resendLog remembers one subscriber's recent retransmissions of one track,
// indexed by sequence number modulo resendLogSize. Owned by the
// subscriber's writer goroutine; made on the first retransmission, so a
// track nobody NACKs costs nothing (4 KiB when it is made).
type resendLog [resendLogSize]struct {
	seq uint16
	n   uint8 // retransmissions of seq so far; 0: the slot is free
	at  int64 // Server.now() of the last one
}

// allow reports whether seq may be resent at now, and records it if so. An
// entry older than maxResendAge is for an earlier packet (or an earlier
// wrap of the sequence numbers): it starts afresh. A slot still held by
// another packet refuses: overwriting it would let a client that NACKs two
// numbers resendLogSize apart have both resent without limit.
func (l *resendLog) allow(seq uint16, now int64) bool {
	e := &l[seq%resendLogSize]
	if e.n == 0 || now-e.at > int64(maxResendAge) {
		e.seq, e.n, e.at = seq, 1, now
		return true
	}
	if e.seq != seq || e.n >= maxResends || now-e.at < int64(resendInterval) {
		return false
	}
	e.n++
	e.at = now
	return true
}

// giveUp reports, once per packet, that seq was NACKed again after its
// maxResends attempts (retransmissions, or NACKs for a packet the cache
// does not have), and not within resendInterval of the last: the
// subscriber still lacks it. Call when allow refused.
func (l *resendLog) giveUp(seq uint16, now int64) bool {
	e := &l[seq%resendLogSize]
	if e.seq != seq || e.n != maxResends || now-e.at < int64(resendInterval) || now-e.at > int64(maxResendAge) {
		return false
	}
	e.n++ // allow refuses it from now on, and giveUp too
	return true
}

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
// congested subscriber (nackCongested) gets no retransmissions.
func (d *downTrack) onNACK(n *rtcp.TransportLayerNack) {
	if d.up.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	congested := len(d.sub.queue) > nackCongested
	budget := maxNACKedPerReport
	var refused uint64
	for _, pair := range n.Nacks {
		pair.Range(func(seq uint16) bool {
			if budget == 0 {
				return false
			}
			budget--
			if !congested {
				select {
				case d.sub.queue <- fwd{d: d, nack: true, seq: seq}:
					return true
				default:
					congested = true
				}
			}
			refused++
			return true
		})
	}
	if refused > 0 {
		d.up.srv.ctr.nacksRefused.Add(refused)
	}
}

// resend answers one NACKed sequence number (in the subscriber's numbering)
// from the cache of the layer it was sent from, within the retransmission
// limits. Runs on the subscriber's writer goroutine.
func (d *downTrack) resend(subSeq uint16) {
	b := d.bind.Load()
	if b == nil || !d.rw.started || !d.sub.connected.Load() {
		return
	}
	// A paused track (its view hid it, or the allocator paused it for
	// bandwidth) resumes on a key frame: resending its old packets would
	// spend what may be a narrow link on frames nobody sees.
	if d.cur.Load() < 0 {
		d.up.srv.ctr.nacksRefused.Add(1)
		return
	}
	p, seg := d.resendable(subSeq)
	if p == nil {
		d.up.srv.ctr.nacksRefused.Add(1)
		return
	}
	defer p.release()
	// Same offsets as when it was first sent: the same numbers again,
	// and the same VP8 picture ids (the segment keeps them too).
	if d.send(b, p, d.payloadFor(p, seg), p.hdr.SequenceNumber+seg.seqOff, p.hdr.Timestamp+seg.tsOff) {
		d.up.srv.ctr.nacksServed.Add(1)
	}
}

// resendable returns the cached packet subSeq names, referenced, and the
// segment it was sent in, when the retransmission limits let it go out
// again now; nil otherwise. The segment says which layer's cache holds it
// and under which source numbers (rewriter.lookup), so a NACK for a packet
// sent before a layer switch gets that packet, not the new layer's packet
// that happens to carry the same source number.
//
// A packet above the temporal layers forwarded now is not resent: no frame
// the subscriber still receives refers to it, or it belongs to a dropped
// run whose hole only a late packet could fill (temporal.go skip). A
// packet NACKed again after all its retransmissions (or never cached: lost
// on the way in, or evicted) is one the subscriber will not get: its
// frame, and every frame after that refers to it, cannot be decoded, and
// the subscriber would wait for its own key-frame timeout (Chromium's is
// 3 s). So the SFU asks the publisher for a key frame at once (giveUp),
// throttled per layer as every request is.
func (d *downTrack) resendable(subSeq uint16) (*packet, *segment) {
	seg := d.rw.lookup(subSeq)
	if seg == nil {
		return nil, nil
	}
	l := d.up.layer(int(seg.layer))
	if l == nil || l.cache == nil {
		return nil, nil
	}
	p := l.cache.get(seg.ssrc, subSeq-seg.seqOff)
	if p != nil && p.vp8.hasTID && int8(p.vp8.tid) > d.tcur {
		p.release()
		return nil, nil
	}
	if d.resent == nil {
		d.resent = new(resendLog)
	}
	now := d.up.srv.now()
	if !d.resent.allow(subSeq, now) {
		if d.resent.giveUp(subSeq, now) {
			d.up.requestKeyframe(int(d.cur.Load()))
		}
		if p != nil {
			p.release()
		}
		return nil, nil
	}
	if p == nil {
		return nil, nil // lost on the way in, or evicted: older than the cache
	}
	if now-p.arrival > int64(maxResendAge) {
		p.release()
		return nil, nil
	}
	return p, seg
}
