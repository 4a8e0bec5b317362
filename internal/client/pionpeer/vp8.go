package pionpeer

// isVP8KeyFrameStart reports whether an RTP payload is the first packet of
// a VP8 key frame: the payload descriptor (RFC 7741 §4.2) says the packet
// starts partition 0 (S=1, PID=0), and the first byte of the frame that
// follows has its P bit clear (RFC 6386 §9.1: 0 = key frame).
//
// It is written here rather than borrowed from the SFU so that a test of
// the SFU's key-frame handling checks it against the RFC, not against
// itself.
func isVP8KeyFrameStart(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	b0 := payload[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S clear, or PID ≠ 0
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: the extension byte follows
		if i >= len(payload) {
			return false
		}
		ext := payload[i]
		i++
		if ext&0x80 != 0 { // I: PictureID, 7 or 15 bits (M)
			if i >= len(payload) {
				return false
			}
			if payload[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID|Y|KEYIDX
			i++
		}
	}
	return i < len(payload) && payload[i]&0x01 == 0
}
