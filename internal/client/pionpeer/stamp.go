package pionpeer

import (
	"encoding/binary"
	"time"
)

// StampSize is the length of the trailer that ends every synthetic RTP
// payload this package sends.
//
// The trailer sits at the end of the payload, not the start, so a receiver
// finds it without parsing the VP8 payload descriptor or Opus TOC, and an SFU
// that reads the codec's first bytes (VP8 key-frame detection) sees what it
// expects there.
const StampSize = 16

// stampMagic marks a payload as carrying a Stamp, so stray packets are not
// misread as measurements: "PRL" in ASCII, followed by the layer byte.
const stampMagic = "PRL"

// noLayer is the layer byte of a stream without simulcast layers, which
// makes the four bytes read "PRLY" as they always did.
const noLayer = 'Y'

// Stamp is what a synthetic payload says about itself: its per-track packet
// number and when it was sent. On one machine the sender's and receiver's
// clocks are the same clock, so Received−Sent is the one-way delay including
// whatever the server added.
type Stamp struct {
	// Seq counts packets on the sending track from 0; unlike the RTP
	// sequence number it does not wrap within a test and survives an SFU
	// that rewrites RTP headers.
	Seq uint32
	// Sent is the wall-clock time the packet was handed to pion.
	Sent time.Time
	// Layer is the simulcast layer the packet was sent on, its RID (q,
	// h or f), or "" for a stream without layers. The SFU forwards one
	// layer at a time under one SSRC, so the payload is the only place a
	// receiver can learn which one it got — and each layer numbers its
	// packets (Seq) on its own.
	Layer string
}

// ParseStamp reads the trailer of an RTP payload. ok is false when the
// payload does not end with one (not sent by this package, or truncated).
func ParseStamp(payload []byte) (s Stamp, ok bool) {
	if len(payload) < StampSize {
		return Stamp{}, false
	}
	t := payload[len(payload)-StampSize:]
	if string(t[0:3]) != stampMagic {
		return Stamp{}, false
	}
	s = Stamp{
		Seq:  binary.BigEndian.Uint32(t[4:8]),
		Sent: time.Unix(0, int64(binary.BigEndian.Uint64(t[8:16]))),
	}
	switch l := t[3]; {
	case l == noLayer:
	case isLayerRID(l):
		s.Layer = string(rune(l))
	default:
		return Stamp{}, false
	}
	return s, true
}

// isLayerRID says b is one of the simulcast layers' one-letter RIDs.
func isLayerRID(b byte) bool {
	for _, l := range simulcastLayers {
		if l.rid == string(rune(b)) {
			return true
		}
	}
	return false
}

// putStamp writes the trailer into the last StampSize bytes of payload.
func putStamp(payload []byte, s Stamp) {
	t := payload[len(payload)-StampSize:]
	copy(t[0:3], stampMagic)
	t[3] = noLayer
	if len(s.Layer) == 1 && isLayerRID(s.Layer[0]) {
		t[3] = s.Layer[0]
	}
	binary.BigEndian.PutUint32(t[4:8], s.Seq)
	binary.BigEndian.PutUint64(t[8:16], uint64(s.Sent.UnixNano()))
}
