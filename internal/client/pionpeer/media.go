package pionpeer

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

const (
	// maxRTPPayload keeps every packet under a 1200-byte MTU once the RTP
	// header, pion's header extensions (TWCC, ~8 bytes) and the SRTP
	// authentication tag are added, as browsers do.
	maxRTPPayload = 1100

	// vp8DescriptorLen is RFC 7741 §4.2's payload descriptor with X=1,
	// I=1 and a 15-bit PictureID. The long PictureID matters: Chromium
	// decodes only the first frame of a pion stream without one (NOTES).
	vp8DescriptorLen = 4

	// vp8TemporalDescriptorLen adds L and T (RFC 7741 §4.2): TL0PICIDX
	// and the TID/Y/KEYIDX byte, on every packet of an L1T3 stream.
	vp8TemporalDescriptorLen = vp8DescriptorLen + 2

	// vp8KeyHeaderLen and vp8DeltaHeaderLen are the uncompressed VP8
	// frame header (RFC 6386 §9.1) at the start of a frame: what an SFU
	// reads to spot key frames and what E2EE leaves in the clear.
	vp8KeyHeaderLen   = 10
	vp8DeltaHeaderLen = 3

	// videoClockRate and audioClockRate are the RTP clocks of VP8 and Opus.
	videoClockRate = 90000
	audioClockRate = 48000

	// defaultAudioPacketTime is Opus's usual 20 ms frame: 50 packets per
	// second.
	defaultAudioPacketTime = 20 * time.Millisecond

	// audioBytesPerMs approximates 32 kbit/s Opus (80 bytes per 20 ms
	// frame), stamp included.
	audioBytesPerMs = 4

	// maxAudioPayload bounds the buffer: a 60 ms frame, Opus's longest.
	maxAudioPayload = 60 * audioBytesPerMs

	// keyFrameFactor is how much larger a key frame is than a delta frame,
	// a typical ratio for a camera picture at these bitrates.
	keyFrameFactor = 4
)

// sink is one local track a source writes to, behind an optional gate.
//
// The mesh track is always open. The SFU track is closed while the
// participant is not publishing on the SFU (a room back in mesh mode):
// withholding packets stops the publication without renegotiating, which
// matters because pion v4.2.20 cannot roll back, so a client offer that
// collided with one of the impolite SFU's offers could never be undone (see
// sfu.go). Packets withheld are subtracted from the sequence numbers, so the
// SFU sees a continuous stream when the gate reopens instead of a gap its
// NACK generator would ask to be filled.
type sink struct {
	track rtpWriter
	open  *atomic.Bool // nil: always open
	also  *atomic.Bool // nil, or a second gate (simulcast dynacast)
	// ext, when set, adds header extensions to a copy of the header
	// (simulcast's MID and RID); false withholds the packet.
	ext func(*rtp.Header) bool
	// skipped counts packets withheld while closed (mod 2^16). Owned by
	// the source's goroutine.
	skipped uint16
}

// rtpWriter is what a sink writes to: a *webrtc.TrackLocalStaticRTP, or a
// test's recorder.
type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
}

// writeTo writes pkt to every open sink, each with its own sequence
// numbering. An error means a binding (one remote) is closing; the others
// still got the packet, so it is ignored.
func writeTo(sinks []*sink, pkt *rtp.Packet) {
	seq := pkt.SequenceNumber
	for _, s := range sinks {
		if (s.open != nil && !s.open.Load()) || (s.also != nil && !s.also.Load()) {
			s.skipped++
			continue
		}
		pkt.SequenceNumber = seq - s.skipped
		if s.ext != nil {
			h := pkt.Header
			h.Extensions = nil
			if !s.ext(&h) {
				s.skipped++
				continue
			}
			_ = s.track.WriteRTP(&rtp.Packet{Header: h, Payload: pkt.Payload})
			continue
		}
		_ = s.track.WriteRTP(pkt)
	}
	pkt.SequenceNumber = seq
}

// videoSource packetizes synthetic VP8 frames onto its sinks. It owns its
// buffer and counters, so it runs on one goroutine; only keyRequested is
// shared.
type videoSource struct {
	sinks    []*sink
	write    func(*rtp.Packet) // nil: writeTo(sinks); tests capture packets
	fps      int
	bitrate  int
	keyEvery int // frames between key frames
	width    int // the size key frames declare; 0: 320×240
	height   int
	layer    string // the simulcast RID its stamps name; "" without simulcast
	// temporal sends L1T3 (see temporalFrame); tframe counts frames
	// since the last key frame, tl0 is the TL0PICIDX of the latest TID 0
	// frame.
	temporal  bool
	tframe    int
	tl0       uint8
	keyHead   []byte // frameHead's key frame start, made on first use
	deltaHead []byte // and its delta frame start
	frame     int
	pictureID uint16
	seq       uint16
	ts        uint32
	stampSeq  uint32
	buf       [maxRTPPayload]byte

	// keyRequested makes the next frame a key frame: set when a receiver
	// asks for one with a PLI or FIR (RFC 4585 §6.3.1, RFC 5104 §3.5.1).
	keyRequested atomic.Bool
	// sent counts packets produced, for Peer.Sent.
	sent atomic.Uint64
}

// requestKeyFrame makes the next frame a key frame. Safe from any
// goroutine.
func (v *videoSource) requestKeyFrame() { v.keyRequested.Store(true) }

// run sends frames until ctx ends.
func (v *videoSource) run(ctx context.Context) {
	tick := time.NewTicker(time.Second / time.Duration(v.fps))
	defer tick.Stop()
	for {
		v.sendFrame()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sendFrame writes one frame as one or more RTP packets sharing a timestamp,
// the marker bit on the last (RFC 7741 §4.1).
func (v *videoSource) sendFrame() {
	// A requested key frame restarts the interval, as encoders do: the
	// periodic one would otherwise follow right after.
	if v.keyRequested.Swap(false) {
		v.frame = 0
	}
	key := v.frame%v.keyEvery == 0
	v.frame++
	// Size the frames so that keyEvery frames average the bitrate.
	frameBytes := v.bitrate / 8 / v.fps
	deltaBytes := frameBytes * v.keyEvery / (v.keyEvery + keyFrameFactor - 1)
	size := deltaBytes
	if key {
		size = deltaBytes * keyFrameFactor
	}
	tid, sync := uint8(0), false
	if v.temporal {
		tid, sync, size = v.temporalFrame(key, size)
	}
	head := v.frameHead(key)
	size = max(size, len(head)+1) // a token partition of at least a byte
	v.pictureID = (v.pictureID + 1) & 0x7fff

	dl := v.descLen()
	perPacket := maxRTPPayload - dl - StampSize
	for off := 0; off < size; off += perPacket {
		n := min(perPacket, size-off)
		p := v.buf[:dl+n+StampSize]
		// RFC 7741 §4.2: X=1 and S=1 on a frame's first packet, PID 0;
		// then I=1 (and L, T for L1T3); then M=1 with the 15-bit
		// PictureID; then TL0PICIDX and TID|Y.
		p[0] = 0x80
		if off == 0 {
			p[0] |= 0x10
		}
		p[1] = 0x80
		p[2] = 0x80 | byte(v.pictureID>>8)
		p[3] = byte(v.pictureID)
		if v.temporal {
			p[1] |= 0x60
			p[4] = v.tl0
			p[5] = tid << 6
			if sync {
				p[5] |= 0x20
			}
		}
		// The frame's bytes: its head where it reaches, zeros after.
		body := p[dl : dl+n]
		clear(body[copy(body, head[min(off, len(head)):]):])
		putStamp(p, Stamp{Seq: v.stampSeq, Sent: time.Now(), Layer: v.layer})
		v.stampSeq++
		pkt := rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         off+n >= size,
				SequenceNumber: v.seq,
				Timestamp:      v.ts,
			},
			Payload: p,
		}
		v.seq++
		v.sent.Add(1)
		if v.write != nil {
			v.write(&pkt)
			continue
		}
		writeTo(v.sinks, &pkt)
	}
	v.ts += uint32(videoClockRate / v.fps)
}

// l1t3Pattern is the temporal layer of each frame in a cycle of four, as
// libwebrtc's L1T3 sends them: TID 0 every fourth frame, TID 1 halfway
// between, TID 2 in between those.
var l1t3Pattern = [4]uint8{0, 2, 1, 2}

// temporalFrame returns the next frame's temporal layer, whether it is a
// layer sync point (Y: it references only a TID 0 frame, the first TID 2
// and TID 1 frames after one), and its size in bytes, given the size of a
// frame without temporal layers: libwebrtc gives L1T3's TID 0 40 % of
// the bitrate and TID ≤ 1 60 %, so a TID 0 frame is twice the others
// (weights 2, 1, 1, 1 over a cycle). A key frame starts a cycle; TL0PICIDX
// counts TID 0 frames.
func (v *videoSource) temporalFrame(key bool, size int) (tid uint8, sync bool, bytes int) {
	if key {
		v.tframe = 0
	}
	i := v.tframe % len(l1t3Pattern)
	v.tframe++
	tid = l1t3Pattern[i]
	if tid == 0 {
		v.tl0++
	}
	if key {
		return tid, false, size
	}
	if tid == 0 {
		return tid, false, size * 8 / 5
	}
	return tid, i == 1 || i == 2, size * 4 / 5
}

// descLen is the length of the payload descriptor this source writes.
func (v *videoSource) descLen() int {
	if v.temporal {
		return vp8TemporalDescriptorLen
	}
	return vp8DescriptorLen
}

// frameHead is the start of every key (or delta) frame of this source:
// the frame tag and, on key frames, the start code and the picture size
// (RFC 6386 §9.1), then a real first partition (vp8frame.go), so that
// the P bit says what the frame is, an SFU can read each simulcast layer's
// size, and a browser can decode it. Made once per kind and kept: it only
// depends on the size.
//
// When the first partition does not fit in a frame's first packet (a
// 1280×720 key frame needs ≈ 1.5 kB: 3,600 macroblocks at 3.4 bits), the
// stamp at the end of that packet would fall inside it; such frames keep
// an empty first partition instead, which an SFU reads as well but a
// decoder refuses.
func (v *videoSource) frameHead(key bool) []byte {
	if key && v.keyHead != nil {
		return v.keyHead
	}
	if !key && v.deltaHead != nil {
		return v.deltaHead
	}
	w, h := v.width, v.height
	if w == 0 {
		w, h = 320, 240
	}
	var b []byte
	if key {
		b = []byte{0, 0, 0, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)}
	} else {
		b = []byte{1, 0, 0}
	}
	room := maxRTPPayload - v.descLen() - StampSize
	if fp := vp8FirstPartition(nil, key, w, h); len(b)+len(fp) <= room {
		b = append(b, fp...)
	}
	// Frame tag: P (bit 0, 0 = key frame), version 0, show_frame = 1
	// (bit 4), first partition size (bits 5–23).
	fpLen := len(b) - vp8KeyHeaderLen
	if !key {
		fpLen = len(b) - vp8DeltaHeaderLen
	}
	tag := uint32(b[0]&1) | 1<<4 | uint32(fpLen)<<5
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		v.keyHead = b
	} else {
		v.deltaHead = b
	}
	return b
}

// audioSource sends synthetic Opus packets, one per frame (50 per second
// at the default 20 ms).
type audioSource struct {
	sinks    []*sink
	ptime    time.Duration // one of opusTOC's frame durations
	seq      uint16
	ts       uint32
	stampSeq uint32
	buf      [maxAudioPayload]byte
	sent     atomic.Uint64 // packets produced, for Peer.Sent
}

// opusTOC is RFC 6716 §3.1's TOC byte for one mono frame of duration d:
// CELT-only fullband (configs 28–31) for 2.5–20 ms, SILK-only wideband
// (configs 10–11) for 40 and 60 ms, which CELT cannot carry in one frame.
func opusTOC(d time.Duration) (byte, bool) {
	config := map[time.Duration]byte{
		2500 * time.Microsecond: 28, 5 * time.Millisecond: 29, 10 * time.Millisecond: 30,
		20 * time.Millisecond: 31, 40 * time.Millisecond: 10, 60 * time.Millisecond: 11,
	}
	c, ok := config[d]
	return c << 3, ok
}

func (a *audioSource) run(ctx context.Context) {
	tick := time.NewTicker(a.ptime)
	defer tick.Stop()
	toc, _ := opusTOC(a.ptime) // checked by Join
	payload := a.buf[:max(StampSize+1, int(a.ptime/time.Millisecond)*audioBytesPerMs)]
	payload[0] = toc
	step := uint32(audioClockRate * a.ptime / time.Second)
	for {
		putStamp(payload, Stamp{Seq: a.stampSeq, Sent: time.Now()})
		a.stampSeq++
		pkt := rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: a.seq, Timestamp: a.ts},
			Payload: payload,
		}
		a.seq++
		a.ts += step
		writeTo(a.sinks, &pkt)
		a.sent.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
