package pionpeer

import (
	"context"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
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

	// vp8KeyHeaderLen and vp8DeltaHeaderLen are the uncompressed VP8
	// frame header (RFC 6386 §9.1) at the start of a frame: what an SFU
	// reads to spot key frames and what E2EE leaves in the clear.
	vp8KeyHeaderLen   = 10
	vp8DeltaHeaderLen = 3

	// videoClockRate and audioClockRate are the RTP clocks of VP8 and Opus.
	videoClockRate = 90000
	audioClockRate = 48000

	// audioPacketTime is Opus's usual 20 ms frame: 50 packets per second.
	audioPacketTime = 20 * time.Millisecond

	// audioPayloadBytes approximates a 32 kbit/s Opus frame (80 bytes per
	// 20 ms) including the stamp.
	audioPayloadBytes = 80

	// keyFrameFactor is how much larger a key frame is than a delta frame,
	// a typical ratio for a camera picture at these bitrates.
	keyFrameFactor = 4
)

// videoSource packetizes synthetic VP8 frames onto a track. It owns its
// buffer and counters, so it runs on one goroutine.
type videoSource struct {
	track     *webrtc.TrackLocalStaticRTP
	write     func(*rtp.Packet) // nil: track.WriteRTP; tests capture packets
	fps       int
	bitrate   int
	keyEvery  int // frames between key frames
	frame     int
	pictureID uint16
	seq       uint16
	ts        uint32
	stampSeq  uint32
	buf       [maxRTPPayload]byte
}

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
	key := v.frame%v.keyEvery == 0
	v.frame++
	// Size the frames so that keyEvery frames average the bitrate.
	frameBytes := v.bitrate / 8 / v.fps
	deltaBytes := frameBytes * v.keyEvery / (v.keyEvery + keyFrameFactor - 1)
	size := deltaBytes
	if key {
		size = deltaBytes * keyFrameFactor
	}
	size = max(size, vp8KeyHeaderLen)
	v.pictureID = (v.pictureID + 1) & 0x7fff

	const perPacket = maxRTPPayload - vp8DescriptorLen - StampSize
	for off := 0; off < size; off += perPacket {
		n := min(perPacket, size-off)
		p := v.buf[:vp8DescriptorLen+n+StampSize]
		// RFC 7741 §4.2: X=1 and S=1 on a frame's first packet, PID 0;
		// then I=1; then M=1 with the 15-bit PictureID.
		p[0] = 0x80
		if off == 0 {
			p[0] |= 0x10
		}
		p[1] = 0x80
		p[2] = 0x80 | byte(v.pictureID>>8)
		p[3] = byte(v.pictureID)
		if off == 0 {
			writeVP8Header(p[vp8DescriptorLen:], key)
		}
		putStamp(p, Stamp{Seq: v.stampSeq, Sent: time.Now()})
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
		if v.write != nil {
			v.write(&pkt)
			continue
		}
		// An error means a binding (one remote) is closing; the
		// others still got the packet, so carry on.
		_ = v.track.WriteRTP(&pkt)
	}
	v.ts += uint32(videoClockRate / v.fps)
}

// writeVP8Header writes RFC 6386 §9.1's frame tag (and on key frames the
// start code and a 320×240 size) so that the P bit says what the frame is.
func writeVP8Header(b []byte, key bool) {
	// Frame tag: P (bit 0, 0 = key frame), version 0, show_frame = 1,
	// first partition size 0.
	b[0], b[1], b[2] = 0x10, 0, 0
	if !key {
		b[0] |= 0x01
		return
	}
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a // start code
	b[6], b[7] = 320&0xff, 320>>8       // width, scale 0
	b[8], b[9] = 240&0xff, 240>>8       // height, scale 0
}

// audioSource sends synthetic Opus packets at 50 per second.
type audioSource struct {
	track    *webrtc.TrackLocalStaticRTP
	seq      uint16
	ts       uint32
	stampSeq uint32
	buf      [audioPayloadBytes]byte
}

func (a *audioSource) run(ctx context.Context) {
	tick := time.NewTicker(audioPacketTime)
	defer tick.Stop()
	// RFC 6716 §3.1 TOC byte: config 31 (CELT-only, fullband, 20 ms),
	// mono, one frame.
	a.buf[0] = 31 << 3
	for {
		putStamp(a.buf[:], Stamp{Seq: a.stampSeq, Sent: time.Now()})
		a.stampSeq++
		pkt := rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: a.seq, Timestamp: a.ts},
			Payload: a.buf[:],
		}
		a.seq++
		a.ts += uint32(audioClockRate * audioPacketTime / time.Second)
		_ = a.track.WriteRTP(&pkt)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
