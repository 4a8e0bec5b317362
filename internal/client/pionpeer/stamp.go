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
// misread as measurements. "PRLY" in ASCII.
const stampMagic = 0x50524c59

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
}

// ParseStamp reads the trailer of an RTP payload. ok is false when the
// payload does not end with one (not sent by this package, or truncated).
func ParseStamp(payload []byte) (s Stamp, ok bool) {
	if len(payload) < StampSize {
		return Stamp{}, false
	}
	t := payload[len(payload)-StampSize:]
	if binary.BigEndian.Uint32(t[0:4]) != stampMagic {
		return Stamp{}, false
	}
	return Stamp{
		Seq:  binary.BigEndian.Uint32(t[4:8]),
		Sent: time.Unix(0, int64(binary.BigEndian.Uint64(t[8:16]))),
	}, true
}

// putStamp writes the trailer into the last StampSize bytes of payload.
func putStamp(payload []byte, s Stamp) {
	t := payload[len(payload)-StampSize:]
	binary.BigEndian.PutUint32(t[0:4], stampMagic)
	binary.BigEndian.PutUint32(t[4:8], s.Seq)
	binary.BigEndian.PutUint64(t[8:16], uint64(s.Sent.UnixNano()))
}
