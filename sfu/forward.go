package sfu

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The forwarding path, in one picture:
//
//	publisher ──SRTP──▶ upTrack.run (one goroutine per published track)
//	                      │ reads into a pooled *packet, parses the header once
//	                      │ for each subscriber: non-blocking send of {downTrack, packet}
//	                      ▼
//	          Session.queue (bounded, one per subscriber)   ← full? drop, count
//	                      │
//	          Session.writeLoop (one goroutine per subscriber)
//	                      │ downTrack.write: copy header, rewrite SSRC/PT/seq/ts,
//	                      │ map header extensions, WriteRTP through pion's interceptors
//	                      ▼
//	                subscriber ──SRTP──▶
//
// A packet is read once, parsed once and never copied by the SFU: every
// subscriber's writer reads the same buffer, and the last one to finish
// returns it to the pool (reference count). No step allocates. A slow
// subscriber only fills its own queue; the publisher's loop never waits.

// packetBufSize holds any packet pion hands over: its receive MTU is 1460.
const packetBufSize = 1500

// writeQueueLen bounds a subscriber's queue of packets waiting to be written.
// 1024 packets is ≈200 ms of a 50-person room's audio and video (≈5000
// packets/s toward one subscriber), or a whole key-frame burst of a 1080p
// screen share: enough to ride out a scheduling hiccup, short enough that a
// stuck subscriber holds little memory (1024 × 1.5 KiB) and its queued media
// is not uselessly old.
const writeQueueLen = 1024

// maxForwardedExtensions bounds the header extensions rewritten per packet
// (today only audio-level is forwarded; the rest is hop-by-hop).
const maxForwardedExtensions = 4

// packet is one RTP packet from a publisher, shared read-only by every
// subscriber's writer until the last reference is released.
type packet struct {
	refs     atomic.Int32
	pool     *sync.Pool
	hdr      rtp.Header // parsed once; Extensions point into buf
	payload  []byte     // buf after the header, padding excluded
	arrival  int64      // Server.now() when read
	keyframe bool       // VP8: first packet of a key frame
	layer    int8       // the simulcast layer it came from (0 without simulcast)
	vp8      vp8Desc    // VP8: its payload descriptor (temporal layer, picture ids)
	buf      [packetBufSize]byte
}

// newPacketPool returns the pool every upTrack takes packets from. Pooled
// packets keep their header's Extensions and CSRC capacity, so parsing does
// not allocate either.
func newPacketPool() *sync.Pool {
	p := &sync.Pool{}
	p.New = func() any { return &packet{pool: p} }
	return p
}

// parse reads the RTP header of the first n bytes of buf (RFC 3550 §5.1) and
// separates the payload from the padding (RFC 3550 §5.1, P bit: the last
// octet counts the padding octets). It reports false for packets too broken
// to forward.
func (p *packet) parse(n int) bool {
	hl, err := p.hdr.Unmarshal(p.buf[:n])
	if err != nil {
		return false
	}
	end := n
	p.hdr.PaddingSize = 0
	if p.hdr.Padding {
		if n <= hl {
			return false
		}
		pad := int(p.buf[n-1])
		if pad == 0 || hl+pad > n {
			return false
		}
		p.hdr.PaddingSize = byte(pad)
		end -= pad
	}
	p.payload = p.buf[hl:end]
	return true
}

// classifyVideo reads what the SFU needs of a video packet's payload: key
// frame or not, and the VP8 payload descriptor. Reader only, once per
// packet, before the packet is shared.
func (p *packet) classifyVideo() {
	p.vp8, _ = parseVP8Desc(p.payload)
	p.keyframe = p.vp8.keyframe(p.payload)
}

// release drops one reference; the last one returns the packet to its pool.
func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		p.payload = nil
		p.pool.Put(p)
	}
}

// fwd is one entry of a subscriber's write queue: a packet to forward, or
// (nack) a sequence number the subscriber asked for again.
type fwd struct {
	d    *downTrack
	p    *packet
	nack bool
	seq  uint16
}

// binding is what pion told a downTrack when it started sending: where to
// write and with which identifiers. Immutable once published.
type binding struct {
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
	// ext maps the publisher's header-extension ids (in the packet) to the
	// subscriber's negotiated ids; only extensions both negotiated, by URI,
	// and that are end-to-end (see forwardedExtension) are listed.
	ext     [][2]uint8
	profile uint16 // RFC 8285 header-extension profile the subscriber's ids need
}

// downTrack is one publisher's track as sent to one subscriber. It is a
// pion TrackLocal of its own (not TrackLocalStaticRTP) so that the SFU
// controls sequence numbers, timestamps and header extensions per
// subscriber, and so that a packet is never re-parsed.
//
// Ownership: the fields under "writer-owned" are touched only by the
// subscriber's writer goroutine; bind is set by pion's goroutines (Bind,
// Unbind) and loaded by the writer; sender is guarded by the subscriber's
// negMu. target is written by whoever chooses the layer (view.go: the
// subscriber's `view` request, the room's layer loop), cur only by the
// writer; both are read by the publisher's readers to filter what they
// queue (accepts).
type downTrack struct {
	up  *upTrack
	sub *Session

	bind atomic.Pointer[binding]

	sender *webrtc.RTPSender // guarded by sub.negMu

	// target is the layer this subscriber should receive, -1 for none
	// (video paused: the tile is hidden). cur is the layer it receives
	// now, -1 before the first key frame or while paused: the writer
	// moves cur to target at the target layer's next key frame.
	target atomic.Int32
	cur    atomic.Int32

	attached bool // in up's fan-out; guarded by up.mu (setTarget, attach, detach)
	pausedBW bool // target < 0 for bandwidth, not for the view; guarded by up.mu

	// limit is the highest layer the subscriber's downlink carries
	// (alloc.go), -1 none, noLimit without constraint; written by the
	// room's loop, read by choose. tlimit is the highest temporal layer
	// of that layer it carries (noTemporalLimit: all of them).
	limit  atomic.Int32
	tlimit atomic.Int32
	// ttarget is the highest temporal layer (VP8 TID) to forward, set
	// with target by choose; the writer moves tcur to it at a frame that
	// allows the switch (temporalPass).
	ttarget atomic.Int32
	// probe is the padding credit in bytes (probe.go): set by the room's
	// loop, spent by the writer.
	probe atomic.Int64
	// overAt is when the lowest layer stopped fitting the downlink, 0
	// while it fits (alloc.go delayPauses); room loop only.
	overAt int64

	// writer-owned
	hdr    rtp.Header
	exts   []rtp.Extension // backing store for hdr.Extensions
	rw     rewriter
	resent *resendLog // retransmissions so far, made on the first NACK (cache.go)
	padAt  int64      // Server.now() of the last probe burst (probe.go)
	tcur   int8       // the temporal layers forwarded now: TID ≤ tcur
	gap    bool       // a packet newer than everything sent was dropped for its TID
	gapSeq uint16     // the newest such packet's source sequence number
	gapPic uint16     // its VP8 PictureID
	gapN   uint16     // how many pictures the run of drops took (temporal.go skip)
	// pbuf is the subscriber's own copy of a payload whose VP8
	// descriptor it rewrites (made on first need: tracks without
	// temporal layers never need it).
	pbuf *[packetBufSize]byte
}

func newDownTrack(up *upTrack, sub *Session) *downTrack {
	d := &downTrack{
		up:   up,
		sub:  sub,
		exts: make([]rtp.Extension, 0, maxForwardedExtensions),
		rw:   newRewriter(up.clockRate),
	}
	d.cur.Store(-1)
	d.limit.Store(noLimit)
	d.tlimit.Store(noTemporalLimit)
	d.ttarget.Store(noTemporalLimit)
	d.tcur = noTemporalLimit
	d.target.Store(int32(sub.initialLayer(up)))
	return d
}

// accepts says whether a packet of layer l is of use to this subscriber:
// the layer it receives, or the one it is switching to (whose key frame
// it waits for). Called by the publisher's readers for every packet, so
// that a subscriber's queue holds one layer, not three.
func (d *downTrack) accepts(l int8) bool {
	return int32(l) == d.cur.Load() || int32(l) == d.target.Load()
}

// ID implements webrtc.TrackLocal: the publisher's track id (room-unique).
func (d *downTrack) ID() string { return d.up.trackID }

// RID implements webrtc.TrackLocal: no simulcast yet.
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: the publisher's stream id (msid),
// so that clients can match tiles to the `media` payloads.
func (d *downTrack) StreamID() string { return d.up.streamID }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// Bind implements webrtc.TrackLocal. Pion calls it when the subscriber's
// answer made the sender start: the track then joins the publisher's
// fan-out, and a video track asks the publisher for a key frame so the
// newcomer's picture starts within a round trip.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var codec webrtc.RTPCodecParameters
	found := false
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.up.mimeType) {
			codec, found = c, true
			break
		}
	}
	if !found {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := &binding{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType), profile: rtp.ExtensionProfileOneByte}
	for _, sub := range ctx.HeaderExtensions() {
		if !forwardedExtension(sub.URI) || sub.ID <= 0 || sub.ID > 255 {
			continue
		}
		for _, pub := range d.up.extensions {
			if pub.URI == sub.URI && pub.ID > 0 && pub.ID <= 255 {
				b.ext = append(b.ext, [2]uint8{uint8(pub.ID), uint8(sub.ID)})
				if sub.ID > 14 { // RFC 8285 §4.2: one-byte ids are 1–14
					b.profile = rtp.ExtensionProfileTwoByte
				}
			}
		}
	}
	if d.bind.Swap(b) == nil {
		d.up.attach(d)
	}
	if d.up.kind == webrtc.RTPCodecTypeVideo && d.sub.connected.Load() {
		d.up.requestKeyframe(int(d.target.Load()))
	}
	return codec, nil
}

// Unbind implements webrtc.TrackLocal: the sender stopped (track removed,
// PeerConnection closed); the track leaves the fan-out at once.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	if d.bind.Swap(nil) != nil {
		d.up.detach(d)
	}
	return nil
}

// write sends p to the subscriber. Runs on the subscriber's writer
// goroutine only. It must not allocate: it reuses d.hdr and d.exts, and the
// payload is written straight from the publisher's buffer.
func (d *downTrack) write(p *packet) {
	b := d.bind.Load()
	if b == nil {
		return // unbound between enqueue and now
	}
	if !d.sub.connected.Load() {
		// Nothing reaches the subscriber before DTLS is up; in particular
		// a key frame must not be spent on it (see Session.onConnected).
		return
	}
	if d.up.kind != webrtc.RTPCodecTypeVideo {
		if !d.rw.started || d.rw.resumed(p.hdr.SSRC, p.hdr.SequenceNumber, p.arrival) {
			d.rw.begin(p.hdr.SSRC, 0, p.hdr.SequenceNumber, p.hdr.Timestamp, p.arrival)
		}
		if seq, ts, ok := d.rw.rewrite(p.hdr.SSRC, p.hdr.SequenceNumber, p.hdr.Timestamp, p.arrival); ok {
			d.send(b, p, p.payload, seq, ts)
		} else if p.hdr.SSRC != d.rw.seg().ssrc {
			// Audio has no key frames: a new source (the publisher
			// restarted its stream) continues at once.
			d.rw.begin(p.hdr.SSRC, 0, p.hdr.SequenceNumber, p.hdr.Timestamp, p.arrival)
			seq, ts, _ := d.rw.rewrite(p.hdr.SSRC, p.hdr.SequenceNumber, p.hdr.Timestamp, p.arrival)
			d.send(b, p, p.payload, seq, ts)
		}
		return
	}
	d.writeVideo(b, p)
}

// writeVideo forwards the one layer this subscriber receives and switches
// layers at key frames only: a decoder can start only at one, and one
// layer's delta frames mean nothing to a decoder fed another's. Until the
// target layer's key frame arrives the current layer keeps flowing (no
// freeze while switching, up or down); a request for that key frame goes
// to the publisher (throttled per layer). Writer goroutine only.
func (d *downTrack) writeVideo(b *binding, p *packet) {
	cur, target := d.cur.Load(), d.target.Load()
	switch {
	case target < 0:
		// Paused (nobody can see the tile): nothing at all goes out,
		// and resuming waits for a key frame.
		if cur >= 0 {
			d.cur.Store(-1)
		}
		return
	case int32(p.layer) == target && (target != cur || p.hdr.SSRC != d.rw.seg().ssrc):
		// The layer to switch to (or the first one, or the current
		// layer under a new SSRC): only at a key frame.
		if !p.keyframe {
			d.up.requestKeyframe(int(target))
			return
		}
		d.rw.begin(p.hdr.SSRC, p.layer, p.hdr.SequenceNumber, p.hdr.Timestamp, p.arrival)
		d.rw.continuePictures(&p.vp8)
		d.gap = false
		if target != cur {
			d.cur.Store(target)
			if cur >= 0 {
				d.up.srv.ctr.layerSwitches.Add(1)
			}
		}
	case int32(p.layer) != cur:
		return // queued before a switch; of no use now
	}
	if !d.temporalPass(&p.vp8) {
		d.noteDrop(p)
		return
	}
	if d.gap && newerSeq(p.hdr.SequenceNumber, d.gapSeq) {
		// The first packet after frames dropped for their temporal
		// layer: what was dropped takes no number (temporal.go skip).
		d.gap = false
		d.rw.skip(d.gapSeq+1, d.gapN, &p.vp8)
	}
	seq, ts, ok := d.rw.rewrite(p.hdr.SSRC, p.hdr.SequenceNumber, p.hdr.Timestamp, p.arrival)
	if !ok {
		return
	}
	seg := d.rw.seg()
	if seq == d.rw.maxSeq {
		d.rw.notePicture(seg, &p.vp8)
	}
	if d.send(b, p, d.payloadFor(p, seg), seq, ts) && p.hdr.Marker {
		d.pad(b, p.arrival) // probe.go: padding goes between frames
	}
}

// send writes p with the subscriber's identifiers, the given sequence
// number and timestamp, and payload (p's own, or the subscriber's copy
// with its VP8 descriptor rewritten: payloadFor). Writer goroutine only; no
// allocation.
func (d *downTrack) send(b *binding, p *packet, payload []byte, seq uint16, ts uint32) bool {
	h := &d.hdr
	h.Version = 2
	h.Padding = p.hdr.Padding
	h.PaddingSize = p.hdr.PaddingSize
	h.Marker = p.hdr.Marker
	h.PayloadType = b.pt
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.SSRC = b.ssrc
	h.CSRC = p.hdr.CSRC
	h.Extensions = d.exts[:0]
	h.Extension, h.ExtensionProfile = true, b.profile
	for _, m := range b.ext {
		if v := p.hdr.GetExtension(m[0]); v != nil && len(h.Extensions) < maxForwardedExtensions {
			_ = h.SetExtension(m[1], v) // a value the profile cannot carry is skipped
		}
	}
	if len(h.Extensions) == 0 {
		h.Extension, h.ExtensionProfile = false, 0
	}
	if _, err := b.w.WriteRTP(h, payload); err != nil {
		return false // the sender is closing; Unbind follows
	}
	d.sub.wstats.packets.Add(1)
	d.sub.wstats.bytes.Add(uint64(len(payload)))
	return true
}

// forwardedExtension says which header extensions are end-to-end and so are
// copied from publisher to subscriber. Audio level is what the sender
// measured (RFC 6464) and stays true across the SFU. Transport-wide
// sequence numbers, absolute send time and MID/RID describe one hop and
// must not be copied.
func forwardedExtension(uri string) bool {
	return uri == audioLevelURI
}

// audioLevelURI is RFC 6464's extension, in every audio packet the browser
// sends when negotiated.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// rewriter maps a source's sequence numbers and timestamps into one
// subscriber's continuous sequence (RFC 3550 §5.1: the sequence number
// increments by one per packet, the timestamp by the sampling clock; a
// receiver sees a jump as loss). The offsets are fixed per segment, so
// reordered packets and the publisher's retransmissions map to the right
// numbers, and a NACK from the subscriber names the packet the SFU sent.
//
// A segment is one uninterrupted run of one source (a simulcast layer's
// SSRC). A layer switch begins a new segment that continues where the
// previous one left off: sequence number +1, timestamp advanced by the
// wall-clock time since the newest packet (layers have unrelated RTP
// timestamps; their capture clocks agree only in real time). Switching
// back to an earlier source (A→B→A) is just another segment with fresh
// offsets. Packets of any source but the current segment's, and packets
// of the current source older than the segment's first, are dropped: they
// would land on numbers already used. The last maxSegments segments are
// kept so that a NACK is answered from the source (layer) the packet was
// sent from (lookup).
type rewriter struct {
	clockRate uint32

	started  bool
	segs     [maxSegments]segment // ring; segs[head] is the current one
	head     int
	count    int
	maxSeq   uint16 // highest output sequence number so far
	maxTS    uint32 // its output timestamp
	maxAt    int64  // its arrival time
	maxPic   uint16 // VP8: the output PictureID of the newest packet that had one
	maxTL0   uint8  // and its output TL0PICIDX
	havePic  bool   // maxPic and maxTL0 are set
	firstSeq uint16 // random initial output values (RFC 3550 §5.1)
	firstTS  uint32
}

// maxSegments is how many recent segments (layer switches, probe padding,
// frames dropped for their temporal layer) a subscriber's track remembers
// for NACKs. Switches happen at most every few hundred milliseconds (each
// needs a key frame), probe padding adds two segments at most every
// probeGap (20 a second), dropped frames one per run of them (at most every
// other frame: 15 a second at 30 fps), and a packet older than
// maxResendAge is never resent, so 64 covers more than that second.
const maxSegments = 64

// segment is one run of one source in a subscriber's sequence.
type segment struct {
	ssrc     uint32
	layer    int8
	start    uint16 // its first output sequence number
	srcFirst uint16 // the source sequence number of that first packet
	seqOff   uint16 // output = source + seqOff
	tsOff    uint32
	picOff   uint16 // VP8 PictureID: output = source + picOff (modulo its width)
	tl0Off   uint8  // VP8 TL0PICIDX: output = source + tl0Off
}

func newRewriter(clockRate uint32) rewriter {
	return rewriter{clockRate: clockRate, firstSeq: uint16(rand.Uint32()), firstTS: rand.Uint32()}
}

// seg is the current segment (zero before begin).
func (r *rewriter) seg() *segment { return &r.segs[r.head] }

// begin starts a new segment at a packet of source ssrc (layer layer),
// numbered right after everything sent so far.
func (r *rewriter) begin(ssrc uint32, layer int8, seq uint16, ts uint32, arrival int64) {
	outSeq, outTS := r.firstSeq, r.firstTS
	if r.started {
		step := uint32(1)
		if elapsed := arrival - r.maxAt; elapsed > 0 {
			// Capped at 10 s: beyond that the receiver resyncs anyway,
			// and the product stays far from overflow.
			elapsed = min(elapsed, 10e9)
			step = max(step, uint32(elapsed*int64(r.clockRate)/1e9))
		}
		outSeq, outTS = r.maxSeq+1, r.maxTS+step
		r.head = (r.head + 1) % maxSegments
	}
	r.count = min(r.count+1, maxSegments)
	r.segs[r.head] = segment{ssrc: ssrc, layer: layer, start: outSeq, srcFirst: seq, seqOff: outSeq - seq, tsOff: outTS - ts}
	if !r.started {
		r.started = true
		r.maxSeq, r.maxTS, r.maxAt = outSeq, outTS, arrival
	}
}

// rewrite returns the output sequence number and timestamp for a packet of
// source ssrc, or ok false for a packet to drop (not the current segment's
// source, or older than its start).
func (r *rewriter) rewrite(ssrc uint32, seq uint16, ts uint32, arrival int64) (outSeq uint16, outTS uint32, ok bool) {
	s := r.seg()
	if !r.started || ssrc != s.ssrc || seq-s.srcFirst >= 0x8000 {
		return 0, 0, false
	}
	outSeq, outTS = seq+s.seqOff, ts+s.tsOff
	if d := outSeq - r.maxSeq; d != 0 && d < 0x8000 { // newer (RFC 3550 A.1 arithmetic)
		r.maxSeq, r.maxTS, r.maxAt = outSeq, outTS, arrival
		if span := r.maxSeq - s.start; span >= maxSegmentSpan && span < 0x8000 {
			// Slide the segment's start along: sequence numbers are
			// compared within half their range, so a segment's first
			// packet must stay within that of its newest, or after
			// 32768 packets of one source (minutes of video, ≈11 of
			// audio) every packet would look older than the segment
			// and be dropped. Nothing that far back is resent anyway.
			adv := span - maxSegmentSpan/2
			s.start += adv
			s.srcFirst += adv
		}
	}
	return outSeq, outTS, true
}

// maxSegmentSpan is how far (in packets) a segment's first number may fall
// behind its newest before the segment's start slides forward (rewrite),
// and how far back a NACK is looked up (lookup): a quarter of the sequence
// number space, far beyond any packet cache (cacheSize).
const maxSegmentSpan = 0x4000

// audioResumeGap: audio that comes back after a pause longer than this with
// packets missing in between (a large room stopped forwarding it, audio.go)
// starts a new segment, so the subscriber sees no loss. Shorter gaps are
// real loss, which the receiver must see. 12 Opus frames.
const audioResumeGap = 240e6 // ns

// resumed reports whether a packet of the current source comes back after
// a pause with packets skipped (not DTX, which numbers its sparse packets
// consecutively).
func (r *rewriter) resumed(ssrc uint32, seq uint16, arrival int64) bool {
	s := r.seg()
	if ssrc != s.ssrc {
		return false
	}
	next := r.maxSeq - s.seqOff + 1 // the source number expected next
	skipped := seq - next
	return skipped != 0 && skipped < 0x8000 && arrival-r.maxAt > audioResumeGap
}

// lookup returns the segment output sequence number seq was sent in, nil
// when seq was never sent (ahead of the newest) or belongs to a segment
// forgotten since.
func (r *rewriter) lookup(seq uint16) *segment {
	if !r.started {
		return nil
	}
	age := r.maxSeq - seq
	if age >= maxSegmentSpan/2 {
		return nil // ahead of the newest, or older than any cache holds
	}
	for i := 0; i < r.count; i++ {
		s := &r.segs[(r.head-i+maxSegments)%maxSegments]
		if r.maxSeq-s.start >= 0x8000 {
			continue // begun after probe padding, nothing sent in it yet
		}
		if r.maxSeq-s.start >= age {
			return s
		}
	}
	return nil
}
