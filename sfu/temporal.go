package sfu

// Temporal layers (VP8 L1T3): a simulcast layer's frames come in three
// temporal layers, TID 0 (a quarter of the frames, which reference only
// each other), TID 1 (another quarter) and TID 2 (the other half). Frames
// of TID ≤ t decode without the others, so a subscriber can get a layer at
// a quarter, half or all of its frame rate: cheaper rungs for the
// allocator (alloc.go) than pausing a tile.
//
// Per subscriber and track the writer forwards the frames whose TID is at
// most tcur and drops the rest. Dropping must leave no trace a receiver
// sees as loss, and loss must stay visible: what a dropped run took,
// sequence numbers and VP8 PictureIDs, is taken out of the subscriber's
// numbering (a new segment of the same source, rewriter.skip), and
// nothing else (Chromium's VP8 reference finder waits for a missing
// picture id; its NACKs ask for missing numbers). TL0PICIDX never skips (TID 0 frames are never dropped) but
// is kept continuous across layer switches. Both are written into the
// subscriber's own copy of the payload (payloadFor); the publisher's
// packet is shared by every writer and stays as it came. The descriptor
// is in clear under E2EE (the packetizer writes it after the frame was
// encrypted): nothing is decrypted. A packet without the T bit (Firefox
// without L1T3, the load tool's plain streams, padding) is forwarded as
// before, as temporal layer 0.

const (
	// maxTemporal is how many temporal layers the SFU tells apart: L1T3's
	// three. A TID above (the field has two bits) counts as the top.
	maxTemporal = 3

	// noTemporalLimit is a temporal limit that passes every frame.
	noTemporalLimit = 3
)

// temporalPass says whether a packet is forwarded for its temporal layer,
// and moves tcur toward ttarget where that is safe: down at any frame's
// start (the frames above are simply no longer sent), up only at a frame
// that references nothing the subscriber lacks: a TID 0 frame, or one
// marked layer sync (Y) whose TID the new target includes. Writer
// goroutine only.
func (d *downTrack) temporalPass(v *vp8Desc) bool {
	if !v.hasTID {
		return true
	}
	if v.start {
		t := int8(d.ttarget.Load())
		switch {
		case t < d.tcur:
			d.tcur = t
		case t > d.tcur && (v.tid == 0 || v.sync && int8(v.tid) <= t):
			d.tcur = t
		}
	}
	return int8(v.tid) <= d.tcur
}

// noteDrop records a packet dropped for its temporal layer when it is newer
// than everything sent from the current segment, and counts the pictures
// the run of drops takes: the next packet sent after it starts a new
// segment (writeVideo). Writer goroutine only.
func (d *downTrack) noteDrop(p *packet) {
	r := &d.rw
	s := r.seg()
	if !r.started || p.hdr.SSRC != s.ssrc || !newerSeq(p.hdr.SequenceNumber, r.maxSeq-s.seqOff) {
		return // late: it takes no number the sequence would give
	}
	if !d.gap {
		d.gap, d.gapN = true, 0
	} else if !newerSeq(p.hdr.SequenceNumber, d.gapSeq) {
		return
	}
	if v := &p.vp8; v.picLen > 0 && (d.gapN == 0 || v.picID != d.gapPic) {
		d.gapN++ // a frame's packets share its PictureID
		d.gapPic = v.picID
	}
	d.gapSeq = p.hdr.SequenceNumber
}

// newerSeq says whether sequence number a comes after b (RFC 3550 A.1
// arithmetic: within half the number space).
func newerSeq(a, b uint16) bool {
	return a != b && a-b < 0x8000
}

// payloadFor is what goes out as p's payload in segment seg: p's own when
// its VP8 picture ids need no change (every packet of a track without
// temporal layers, and of one that never dropped a frame or switched
// layers), else the subscriber's copy with them rewritten. The same
// segment gives the same bytes, so a retransmission (cache.go) carries the
// values of the first send. Writer goroutine only; allocates once per
// downTrack, on first need.
func (d *downTrack) payloadFor(p *packet, seg *segment) []byte {
	v := &p.vp8
	if !v.hasTID || seg.picOff == 0 && seg.tl0Off == 0 || v.picLen == 0 && v.tl0At == 0 {
		return p.payload
	}
	if d.pbuf == nil {
		d.pbuf = new([packetBufSize]byte)
	}
	out := d.pbuf[:len(p.payload)]
	copy(out, p.payload)
	rewriteVP8Desc(out, v, (v.picID+seg.picOff)&v.picMask(), v.tl0+seg.tl0Off)
	return out
}

// skip begins a new segment of the current source at source sequence
// number seq, the one after the last packet dropped for its temporal
// layer, numbered right after the newest packet sent; pics is how many
// pictures the drops took. What was dropped takes no number, sequence or
// picture; anything else missing keeps its place. A packet lost on the
// way in between the drops and the next one sent (the start of a TID 0
// frame, say) thus leaves a hole the subscriber sees and NACKs, and the
// packet, should it come late, fills it. Closing the hole instead would
// hide the loss: the subscriber would see an unfinished frame with no
// packet missing, ask for nothing, and wait for a key frame until its own
// timeout (Chromium's is 3 s). A packet lost amid the dropped ones does
// lose its sequence number (nothing tells its place from theirs), but a
// frame lost whole there keeps its picture id. Timestamps go on as before.
func (r *rewriter) skip(seq, pics uint16, v *vp8Desc) {
	cur := *r.seg()
	if !r.started {
		return
	}
	next := cur
	next.start, next.srcFirst, next.seqOff = r.maxSeq+1, seq, r.maxSeq+1-seq
	if r.havePic && v.hasTID && v.picLen > 0 {
		next.picOff = cur.picOff - pics
	}
	r.head = (r.head + 1) % maxSegments
	r.count = min(r.count+1, maxSegments)
	r.segs[r.head] = next
}

// continuePictures sets the current segment's picture-id offsets, for a
// segment begun at a key frame (a layer switch, a resume), so that v's
// picture and TL0PICIDX are the ones after the newest sent: a key frame
// is a TID 0 picture. (After frames dropped for their temporal layer,
// skip moves the PictureID alone: TID 0 frames are never dropped.)
// Nothing before the first picture: the first segment keeps the
// publisher's values.
func (r *rewriter) continuePictures(v *vp8Desc) {
	s := r.seg()
	if !r.havePic || !v.hasTID {
		return
	}
	if v.picLen > 0 {
		s.picOff = r.maxPic + 1 - v.picID
	}
	if v.tl0At != 0 {
		s.tl0Off = r.maxTL0 + 1 - v.tl0
	}
}

// notePicture records the output picture ids of the newest packet sent.
func (r *rewriter) notePicture(s *segment, v *vp8Desc) {
	if !v.hasTID || v.picLen == 0 && v.tl0At == 0 {
		return
	}
	if v.picLen > 0 {
		r.maxPic = (v.picID + s.picOff) & v.picMask()
	}
	if v.tl0At != 0 {
		r.maxTL0 = v.tl0 + s.tl0Off
	}
	r.havePic = true
}
