package sfu

import (
	"github.com/pion/rtp"
)

// Probing: gcc (bwe.go) raises its estimate by at most 8 % a second, and
// never above 1.5× the rate it sees acknowledged. A subscriber held on
// low layers may send much less than the estimate (the next step up does
// not fit yet), and then that cap stops the climb: the estimate could
// never grow to what the view asks for. So while the allocation holds
// some tile below what its view asks for, the SFU fills what the media
// leaves of the estimate with padding: RTP packets of padding only (RFC
// 3550 §5.1, P bit), on the media SSRC of the subscriber's
// highest-priority forwarded video, right after a frame's last packet (a
// receiver's jitter buffer takes padding between frames; Chromium sends
// its own padding the same way). Decoders never see it.
//
// Media plus padding reach the estimate, not more: gcc's target is the
// rate at which queues start to build, and padding on top of a full
// estimate (half of it was tried) overflowed a 1.5 Mbit/s link each time
// a tile stepped up, and the loss then pulled the estimate down to half
// the link (TestBrowserConstrainedDownlink).
//
// Bounded: at most maxProbeRate, in bursts of at most maxProbeBurst
// packets at least probeGap apart, not while gcc sees loss, and not for
// a while after the estimate fell (the link just said no): probeBackoff,
// doubled by every fall that came while padding (the padding found the
// link's limit), up to maxProbeBackoff. Padding up to gcc's estimate
// finds that limit by overflowing it: the estimate climbs past what the
// link carries, the padding follows, the queue overflows, and the loss
// takes every tile down a rung. With a fixed 2 s wait that came back
// every 4-6 s behind a 2 Mbit/s link (BenchmarkConstrainedRoom), and
// tiles spent a third of the time at a quarter of their frame rate.

const (
	// probePadding is the padding of one probe packet: RTP's maximum
	// (the count is one byte).
	probePadding = 255

	// maxProbeRate bounds the padding per subscriber: 1 Mbit/s is more
	// than any one step up (the top layer of a 720p camera) needs.
	maxProbeRate = 1_000_000

	// maxProbeBurst and probeGap shape the padding: a burst of up to 32
	// packets (8 KiB) per frame at most every 100 ms. Each burst costs two
	// rewriter segments (maxSegments), and must stay short enough not to
	// delay the next frame.
	maxProbeBurst = 32
	probeGap      = 100e6 // ns

	// probeBackoff: after the estimate fell, no padding for 2 s: the drop
	// means the link is full, and padding would only add loss.
	probeBackoff = 2e9 // ns

	// maxProbeBackoff bounds the doubled wait: a link that frees up is
	// found again within 16 s (gcc also climbs by itself meanwhile, up
	// to 1.5× what it sees acknowledged).
	maxProbeBackoff = 16e9 // ns

	// probeQuiet: a subscriber whose estimate did not fall for this long
	// starts again from probeBackoff: its link may have changed.
	probeQuiet = 2 * maxProbeBackoff

	// probeDrop: a fall of the estimate below 9/10 of the previous tick's
	// is a drop that stops probing (probeBackoff); gcc's estimate wobbles
	// by less between ticks while it climbs.
	probeDropNum, probeDropDen = 9, 10

	// probeMaxLoss: no padding while gcc sees more loss than this (its
	// own threshold for raising the loss-based estimate).
	probeMaxLoss = 0.02
)

// probe gives the subscriber's highest-priority forwarded video the
// padding credit for the next tick, what media (bits/s) leaves of the
// estimate, when some tile is held below what its view asks for, the
// estimate did not just fall and gcc sees no loss (lossFree); otherwise
// it clears every credit. items are the allocation's tiles in priority
// order. Room loop only.
func (ss *Session) probe(items []allocItem, est, media int, lossFree bool, now int64) {
	held := false
	var carrier *downTrack
	for _, it := range items {
		held = held || it.limit < it.want || it.limit >= 0 && it.tlimit < noTemporalLimit
		if carrier == nil && it.limit >= 0 && it.d.cur.Load() >= 0 {
			carrier = it.d
		}
	}
	if !held || now-ss.dl.droppedAt < ss.dl.probeWait || !lossFree {
		carrier = nil
	}
	if carrier != nil {
		ss.dl.probedAt = now
	}
	for _, it := range items {
		if it.d != carrier {
			it.d.probe.Store(0)
			continue
		}
		rate := min(max(est-media, 0), maxProbeRate)
		it.d.probe.Store(int64(rate) * int64(speakerInterval) / 8e9)
	}
}

// pad sends probe padding after a frame's last packet when this track has
// credit (probe). Writer goroutine only.
func (d *downTrack) pad(b *binding, now int64) {
	credit := d.probe.Load()
	if credit < probePadding || now-d.padAt < int64(probeGap) {
		return
	}
	n := min(int(credit/probePadding), maxProbeBurst)
	seq, ts, ok := d.rw.pad(n)
	if !ok {
		return
	}
	d.padAt = now
	d.probe.Add(-int64(n * probePadding))
	h := &d.hdr
	for i := range n {
		*h = rtp.Header{
			Version: 2, Padding: true, PaddingSize: probePadding,
			PayloadType: b.pt, SequenceNumber: seq + uint16(i), Timestamp: ts, SSRC: b.ssrc,
			Extensions: d.exts[:0],
		}
		if _, err := b.w.WriteRTP(h, nil); err != nil {
			return
		}
		d.up.srv.ctr.probePackets.Add(1)
	}
}

// pad reserves n output sequence numbers for padding right after the
// newest packet, at its timestamp. The padding gets a segment of its own
// (no source: a NACK for it is refused), and the current source goes on
// in a new segment whose numbers are shifted by n, its timestamps not. ok
// is false before the first packet.
func (r *rewriter) pad(n int) (seq uint16, ts uint32, ok bool) {
	cur := *r.seg()
	if !r.started || cur.ssrc == 0 || n <= 0 {
		return 0, 0, false
	}
	seq, ts = r.maxSeq+1, r.maxTS
	r.head = (r.head + 1) % maxSegments
	r.segs[r.head] = segment{layer: -1, start: seq}
	next := r.maxSeq - cur.seqOff + 1 // the source number expected next
	r.maxSeq += uint16(n)
	r.head = (r.head + 1) % maxSegments
	after := cur // same source, timestamps and picture ids
	after.start, after.srcFirst, after.seqOff = r.maxSeq+1, next, cur.seqOff+uint16(n)
	r.segs[r.head] = after
	r.count = min(r.count+2, maxSegments)
	return seq, ts, true
}

// fell records a fall of the estimate at now: no padding for probeWait
// after it, doubled when the fall came while padding (credit given within
// the last two allocations: the loss or queue the padding made shows in
// feedback a tick later). Room loop only.
func (dl *downlink) fell(now int64) {
	if dl.probeWait == 0 || now-dl.droppedAt >= int64(probeQuiet) {
		dl.probeWait = int64(probeBackoff)
	}
	if dl.probedAt != 0 && now-dl.probedAt <= int64(2*speakerInterval) {
		dl.probeWait = min(2*dl.probeWait, int64(maxProbeBackoff))
	}
	dl.droppedAt = now
}
