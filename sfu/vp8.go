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
	v, _ := parseVP8Desc(payload)
	return v.keyframe(payload)
}

// vp8HeaderOffset returns where the VP8 payload header (the frame's first
// byte) starts in an RTP payload whose packet begins a frame: after the
// payload descriptor drawn above. ok is false when the packet does not
// begin a frame (S clear or PID ≠ 0) or is too short.
func vp8HeaderOffset(payload []byte) (int, bool) {
	v, _ := parseVP8Desc(payload)
	return v.header(payload)
}

// vp8Desc is what the SFU reads of a VP8 payload descriptor (RFC 7741
// §4.2, drawn above) for temporal layers: parsed once by the reader,
// shared read-only with every subscriber's writer. The zero value is a
// packet without a descriptor the SFU understands (padding, not VP8): it
// is forwarded as it is, as one temporal layer.
type vp8Desc struct {
	hasTID bool   // T bit: the packet says its temporal layer
	start  bool   // S set and PID 0: the packet begins a frame
	sync   bool   // Y: the frame references only TL0 frames (a switch-up point)
	tid    uint8  // temporal layer id (0 without T)
	picLen uint8  // PictureID bytes: 0 none, 1 (7 bits), 2 (15 bits)
	picAt  uint8  // offset of the PictureID in the payload (when picLen > 0)
	tl0At  uint8  // offset of TL0PICIDX in the payload, 0 when absent (offset 0 is never it)
	picID  uint16 // PictureID
	tl0    uint8  // TL0PICIDX
	hdrAt  uint8  // the descriptor's length: where the VP8 payload header starts
}

// header returns where the VP8 payload header starts in payload, the
// packet v was parsed from; ok is false when the packet does not begin a
// frame or ends before the header (the zero vp8Desc, of a payload too
// short for its descriptor, never begins one).
func (v *vp8Desc) header(payload []byte) (int, bool) {
	if !v.start || len(payload) <= int(v.hdrAt) {
		return 0, false
	}
	return int(v.hdrAt), true
}

// keyframe says whether payload, the packet v was parsed from, is the
// first packet of a VP8 key frame (the P bit of the payload header).
func (v *vp8Desc) keyframe(payload []byte) bool {
	i, ok := v.header(payload)
	return ok && payload[i]&0x01 == 0 // P bit: 0 = key frame
}

// picMask is the PictureID's range: 7 or 15 bits (RFC 7741 §4.2, M bit).
func (v *vp8Desc) picMask() uint16 {
	if v.picLen == 2 {
		return 0x7fff
	}
	return 0x7f
}

// parseVP8Desc reads the payload descriptor at the start of a VP8 RTP
// payload. ok is false when the payload is too short for what its flags
// announce; the descriptor is in clear under E2EE (the packetizer writes it
// after the frame was encrypted), so nothing is decrypted.
func parseVP8Desc(payload []byte) (v vp8Desc, ok bool) {
	if len(payload) < 1 {
		return vp8Desc{}, false
	}
	b0 := payload[0]
	// S (start of partition) set and PID (partition index) 0: the frame
	// begins in this packet.
	v.start = b0&0x10 != 0 && b0&0x07 == 0
	v.hdrAt = 1
	if b0&0x80 == 0 { // no X: nothing but the first byte
		return v, true
	}
	if len(payload) < 2 {
		return vp8Desc{}, false
	}
	ext := payload[1]
	i := 2
	if ext&0x80 != 0 { // I: PictureID
		if len(payload) <= i {
			return vp8Desc{}, false
		}
		v.picAt = uint8(i)
		if payload[i]&0x80 != 0 { // M: 15 bits
			if len(payload) <= i+1 {
				return vp8Desc{}, false
			}
			v.picLen, v.picID = 2, uint16(payload[i]&0x7f)<<8|uint16(payload[i+1])
			i += 2
		} else {
			v.picLen, v.picID = 1, uint16(payload[i])
			i++
		}
	}
	if ext&0x40 != 0 { // L: TL0PICIDX
		if len(payload) <= i {
			return vp8Desc{}, false
		}
		v.tl0At, v.tl0 = uint8(i), payload[i]
		i++
	}
	if ext&0x20 != 0 { // T: TID and Y
		if len(payload) <= i {
			return vp8Desc{}, false
		}
		v.hasTID = true
		v.tid = payload[i] >> 6
		v.sync = payload[i]&0x20 != 0
	}
	if ext&0x30 != 0 { // T or K: the TID/Y/KEYIDX byte
		i++
	}
	v.hdrAt = uint8(i)
	return v, true
}

// rewriteVP8Desc writes PictureID pic and TL0PICIDX tl0 into a copy of a
// payload whose descriptor v describes (the subscriber's own buffer: the
// publisher's packet is shared by every writer and never changed). The
// copy keeps every other byte, and the field widths of the original.
func rewriteVP8Desc(dst []byte, v *vp8Desc, pic uint16, tl0 uint8) {
	switch v.picLen {
	case 1:
		dst[v.picAt] = byte(pic & 0x7f)
	case 2:
		dst[v.picAt] = 0x80 | byte(pic>>8&0x7f)
		dst[v.picAt+1] = byte(pic)
	}
	if v.tl0At != 0 {
		dst[v.tl0At] = tl0
	}
}
