package sfu

// vp8KeyframeStart reports whether an RTP payload (padding removed) is the
// first packet of a VP8 key frame.
//
// It reads only what stays in clear under Parley's end-to-end encryption:
// the VP8 payload descriptor (RFC 7741 §4.2), which the browser's
// packetizer writes after the frame was encrypted, and the first byte of the
// frame, which the encryption leaves in clear (docs/e2ee.md: 10 bytes on key
// frames, 3 on delta frames). Nothing past that byte is looked at.
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	|X|R|N|S|R| PID | (REQUIRED)
//	+-+-+-+-+-+-+-+-+
//	|I|L|T|K| RSV   | (OPTIONAL, present when X)
//	+-+-+-+-+-+-+-+-+
//	|M| PictureID   | (OPTIONAL, present when I; a second byte when M)
//	+-+-+-+-+-+-+-+-+
//	|   TL0PICIDX   | (OPTIONAL, present when L)
//	+-+-+-+-+-+-+-+-+
//	|TID|Y| KEYIDX  | (OPTIONAL, present when T or K)
//	+-+-+-+-+-+-+-+-+
//
// then the VP8 payload header (RFC 7741 §4.3), whose first byte ends with
// the P bit: 0 for a key frame (RFC 6386 §9.1 "frame type").
func vp8KeyframeStart(payload []byte) bool {
	i, ok := vp8HeaderOffset(payload)
	return ok && payload[i]&0x01 == 0 // P bit: 0 = key frame
}

// vp8HeaderOffset returns where the VP8 payload header (the frame's first
// byte) starts in an RTP payload whose packet begins a frame: after the
// payload descriptor drawn above. ok is false when the packet does not
// begin a frame (S clear or PID ≠ 0) or is too short.
func vp8HeaderOffset(payload []byte) (int, bool) {
	if len(payload) < 1 {
		return 0, false
	}
	b0 := payload[0]
	// S (start of partition) set and PID (partition index) 0: the frame
	// begins in this packet.
	if b0&0x10 == 0 || b0&0x07 != 0 {
		return 0, false
	}
	i := 1
	if b0&0x80 != 0 { // X: extension byte
		if len(payload) <= i {
			return 0, false
		}
		ext := payload[i]
		i++
		if ext&0x80 != 0 { // I: PictureID
			if len(payload) <= i {
				return 0, false
			}
			if payload[i]&0x80 != 0 { // M: 15-bit PictureID
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if len(payload) <= i {
		return 0, false
	}
	return i, true
}
