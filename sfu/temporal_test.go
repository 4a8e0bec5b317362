package sfu

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Unit tests of temporal-layer filtering (temporal.go): one subscriber's
// downTrack driven synchronously, packet by packet, as its writer would.

// vp8Frame describes one frame of a synthetic L1T3 stream.
type vp8Frame struct {
	key   bool
	pic   uint16
	wide  bool // 15-bit PictureID (else 7-bit)
	tl0   uint8
	tid   uint8
	sync  bool
	ts    uint32
	count int // packets
}

// payloads returns the frame's RTP payloads: the full descriptor (I, L, T)
// on every packet, S on the first, then the VP8 payload header's first
// byte (P bit) and filler.
func (f vp8Frame) payloads() [][]byte {
	var out [][]byte
	for i := range f.count {
		b0 := byte(0x80)
		if i == 0 {
			b0 |= 0x10
		}
		p := []byte{b0, 0xe0}
		if f.wide {
			p = append(p, 0x80|byte(f.pic>>8), byte(f.pic))
		} else {
			p = append(p, byte(f.pic&0x7f))
		}
		y := byte(0)
		if f.sync {
			y = 0x20
		}
		p = append(p, f.tl0, f.tid<<6|y)
		if i == 0 && f.key {
			p = append(p, 0x00)
		} else {
			p = append(p, 0x01)
		}
		out = append(out, append(p, byte(f.pic), byte(i), 0xaa, 0xbb))
	}
	return out
}

// l1t3 is a publisher's stream: TIDs 0,2,1,2 with TL0PICIDX counting TID 0
// frames and Y on the frames right after a TID 0 one (libwebrtc's pattern).
type l1t3 struct {
	ssrc  uint32
	layer int8
	seq   uint16
	pic   uint16
	wide  bool
	tl0   uint8
	ts    uint32
	n     int // frames since the last key frame
	total int // frames in all
}

func (s *l1t3) next(key bool) vp8Frame {
	tid := [4]uint8{0, 2, 1, 2}[s.n%4]
	if key {
		tid = 0
		s.n = 0
	}
	if tid == 0 && s.total > 0 {
		s.tl0++
	}
	s.total++
	f := vp8Frame{key: key, pic: s.pic, wide: s.wide, tl0: s.tl0, tid: tid, sync: s.n%4 == 1 || s.n%4 == 2, ts: s.ts, count: 2}
	s.n++
	s.pic++
	if s.wide {
		s.pic &= 0x7fff
	} else {
		s.pic &= 0x7f
	}
	s.ts += 6000
	return f
}

// tharness is one video track with layers layers and one subscriber whose
// writer is called directly.
type tharness struct {
	t   *testing.T
	srv *Server
	up  *upTrack
	d   *downTrack
	w   *fakeWriter
}

func newTHarness(t *testing.T, layers int) *tharness {
	srv := &Server{pool: newPacketPool(), epoch: time.Now(), ctx: context.Background()}
	up := &upTrack{
		srv: srv, kind: webrtc.RTPCodecTypeVideo, clockRate: clockRateVideo, mimeType: webrtc.MimeTypeVP8,
		writeRTCP: func([]rtcp.Packet) error { return nil }, nLayers: layers,
	}
	for i := range up.kf {
		up.kf[i] = throttle{interval: int64(keyframeInterval)}
	}
	for i := range layers {
		up.layers[i].Store(newUpLayer(i, "", nil, true))
	}
	empty := []*downTrack{}
	up.downs.Store(&empty)
	ss := &Session{srv: srv, ctx: context.Background(), queue: make(chan fwd, writeQueueLen), views: map[string]viewItem{}}
	ss.connected.Store(true)
	w := &fakeWriter{keepAll: true}
	d := newDownTrack(up, ss)
	d.bind.Store(&binding{w: w, ssrc: 1000, pt: 96})
	d.target.Store(0)
	h := &tharness{t: t, srv: srv, up: up, d: d, w: w}
	t.Cleanup(func() {
		for i := range layers {
			up.layer(i).cache.clear()
		}
	})
	return h
}

// frame feeds a frame of s through the reader's steps and the writer.
func (h *tharness) frame(s *l1t3, f vp8Frame) {
	for _, raw := range h.packets(s, f) {
		h.feed(s.layer, raw)
	}
}

// packets returns the frame's RTP packets, numbered on from s.
func (h *tharness) packets(s *l1t3, f vp8Frame) [][]byte {
	var out [][]byte
	for _, pl := range f.payloads() {
		raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: s.seq, Timestamp: f.ts, SSRC: s.ssrc}, Payload: pl}).Marshal()
		if err != nil {
			h.t.Fatal(err)
		}
		s.seq++
		out = append(out, raw)
	}
	return out
}

// feed passes one packet of layer through the reader's steps and the
// writer.
func (h *tharness) feed(layer int8, raw []byte) {
	p := h.srv.pool.Get().(*packet)
	p.refs.Store(1)
	n := copy(p.buf[:], raw)
	if !p.parse(n) {
		h.t.Fatal("parse")
	}
	p.arrival = h.srv.now()
	p.layer = layer
	p.classifyVideo()
	l := h.up.layer(int(layer))
	l.noteTemporal(p, n)
	l.cache.add(p)
	h.d.write(p)
	p.release()
}

// sent is one packet the subscriber received, decoded.
type sent struct {
	raw  []byte
	seq  uint16
	ts   uint32
	desc vp8Desc
	tag  byte // the payload's byte after the descriptor's: the source picture (low bits)
}

func (h *tharness) sent() []sent {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	var out []sent
	for _, b := range h.w.all {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			h.t.Fatal(err)
		}
		v, ok := parseVP8Desc(p.Payload)
		if !ok {
			h.t.Fatalf("sent payload %x has no descriptor", p.Payload)
		}
		out = append(out, sent{raw: b, seq: p.SequenceNumber, ts: p.Timestamp, desc: v, tag: p.Payload[len(p.Payload)-4]})
	}
	return out
}

// checkContinuous checks what a receiver checks: sequence numbers +1 per
// packet, the PictureID +1 per frame (modulo its width), TL0PICIDX +1 per
// TID 0 frame and unchanged otherwise.
func checkContinuous(t *testing.T, out []sent) {
	t.Helper()
	for i := 1; i < len(out); i++ {
		a, b := out[i-1], out[i]
		if b.seq != a.seq+1 {
			t.Errorf("packet %d: seq %d after %d", i, b.seq, a.seq)
		}
		if !b.desc.start {
			if b.desc.picID != a.desc.picID || b.ts != a.ts {
				t.Errorf("packet %d: picture %d ts %d inside frame %d ts %d", i, b.desc.picID, b.ts, a.desc.picID, a.ts)
			}
			continue
		}
		if want := (a.desc.picID + 1) & b.desc.picMask(); b.desc.picID != want {
			t.Errorf("packet %d: picture id %d after %d, want %d", i, b.desc.picID, a.desc.picID, want)
		}
		wantTL0 := a.desc.tl0
		if b.desc.tid == 0 {
			wantTL0++
		}
		if b.desc.tl0 != wantTL0 {
			t.Errorf("packet %d (TID %d): TL0PICIDX %d after %d, want %d", i, b.desc.tid, b.desc.tl0, a.desc.tl0, wantTL0)
		}
	}
}

func tids(out []sent) []uint8 {
	var r []uint8
	for _, s := range out {
		if s.desc.start {
			r = append(r, s.desc.tid)
		}
	}
	return r
}

func TestParseVP8Desc(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want vp8Desc
		ok   bool
	}{
		{"no X", []byte{0x10, 0x9d}, vp8Desc{start: true, hdrAt: 1}, true},
		{"15-bit, L, T, Y", []byte{0x90, 0xe0, 0x81, 0x02, 7, 0x60, 0x00}, vp8Desc{start: true, hasTID: true, sync: true, tid: 1, picLen: 2, picAt: 2, tl0At: 4, picID: 0x102, tl0: 7, hdrAt: 6}, true},
		{"7-bit, T only", []byte{0x80, 0xa0, 0x05, 0x80, 0x01}, vp8Desc{hasTID: true, tid: 2, picLen: 1, picAt: 2, picID: 5, hdrAt: 4}, true},
		{"middle partition", []byte{0x91, 0x20, 0x40}, vp8Desc{hasTID: true, tid: 1, hdrAt: 3}, true},
		{"K only: no TID", []byte{0x90, 0x10, 0x1f, 0}, vp8Desc{start: true, hdrAt: 3}, true},
		{"truncated picture id", []byte{0x90, 0x80, 0x81}, vp8Desc{}, false},
		{"truncated TID", []byte{0x90, 0x60, 0x01}, vp8Desc{}, false},
		{"empty", nil, vp8Desc{}, false},
	}
	for _, c := range cases {
		got, ok := parseVP8Desc(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestTemporalFilter: a subscriber limited to TID 0, then all, then TID ≤ 1
// gets exactly those frames; switching up waits for a TID 0 or sync frame,
// down happens at the next frame; sequence numbers, picture ids and
// TL0PICIDX stay continuous throughout, with 15-bit and 7-bit picture ids
// and across wrap-arounds of all three.
func TestTemporalFilter(t *testing.T) {
	for _, wide := range []bool{true, false} {
		h := newTHarness(t, 1)
		s := &l1t3{ssrc: 10, seq: 65500, pic: 0x7fe0, wide: wide, tl0: 250, ts: 1000}
		if !wide {
			s.pic = 100
		}
		h.d.ttarget.Store(0)
		h.frame(s, s.next(true))
		for range 11 {
			h.frame(s, s.next(false))
		}
		out := h.sent()
		if got := tids(out); !slices.Equal(got, []uint8{0, 0, 0}) {
			t.Errorf("wide=%v, TID 0 only: frames of TIDs %v", wide, got)
		}
		h.d.ttarget.Store(noTemporalLimit)
		h.frame(s, s.next(false)) // TID 0: the switch up
		for range 7 {
			h.frame(s, s.next(false))
		}
		h.d.ttarget.Store(1)
		for range 8 {
			h.frame(s, s.next(false)) // down at once
		}
		h.d.ttarget.Store(2)
		h.frame(s, s.next(false)) // TID 0 again: up
		h.frame(s, s.next(false)) // TID 2
		out = h.sent()
		want := []uint8{0, 0, 0, 0, 2, 1, 2, 0, 2, 1, 2, 0, 1, 0, 1, 0, 2}
		if got := tids(out); !slices.Equal(got, want) {
			t.Errorf("wide=%v: frames of TIDs %v, want %v", wide, got, want)
		}
		checkContinuous(t, out)
		if t.Failed() {
			return
		}
	}
}

// TestTemporalSwitchUpAtSync: raised in the middle of a TID 0 period, the
// subscriber gets the new layers from the next frame marked layer sync
// whose TID the target includes, not before.
func TestTemporalSwitchUpAtSync(t *testing.T) {
	h := newTHarness(t, 1)
	s := &l1t3{ssrc: 10, seq: 1, pic: 1, wide: true}
	h.d.ttarget.Store(0)
	h.frame(s, s.next(true)) // TID 0
	h.d.ttarget.Store(1)
	h.frame(s, s.next(false)) // TID 2, sync: above the target, dropped
	h.frame(s, s.next(false)) // TID 1, sync: the switch
	h.frame(s, s.next(false)) // TID 2: dropped
	h.frame(s, s.next(false)) // TID 0
	out := h.sent()
	if got := tids(out); !slices.Equal(got, []uint8{0, 1, 0}) {
		t.Errorf("frames of TIDs %v, want [0 1 0]", got)
	}
	checkContinuous(t, out)
}

// TestTemporalDropsKeepLoss: a packet lost on the way in right after
// frames dropped for their temporal layer (the first packet of the next
// TID 0 frame) leaves a hole in the subscriber's sequence, where its NACK
// points, and the packet, come late, fills it with its own picture id.
// Closing the hole hid such a loss: the subscriber had an unfinished frame
// and nothing to NACK, and froze until its own key-frame timeout. A NACK
// for a packet of a dropped frame gets nothing, and a frame lost whole
// amid dropped ones keeps its hole in the picture ids.
func TestTemporalDropsKeepLoss(t *testing.T) {
	h := newTHarness(t, 1)
	s := &l1t3{ssrc: 10, seq: 65530, pic: 0x7ff0, wide: true, tl0: 9}
	h.d.ttarget.Store(1)
	h.frame(s, s.next(true))           // TID 0
	h.frame(s, s.next(false))          // TID 2: dropped
	h.frame(s, s.next(false))          // TID 1
	h.frame(s, s.next(false))          // TID 2: dropped
	tl0 := h.packets(s, s.next(false)) // TID 0: its first packet is lost on the way in
	h.feed(0, tl0[1])
	out := h.sent()
	if len(out) != 5 {
		t.Fatalf("%d packets sent, want 5 (key frame, TID 1, half a TID 0)", len(out))
	}
	last, prev := out[4], out[3]
	if last.seq != prev.seq+2 {
		t.Fatalf("after a lost packet: seq %d follows %d, want a hole of one", last.seq, prev.seq)
	}
	if want := (prev.desc.picID + 1) & 0x7fff; last.desc.picID != want {
		t.Errorf("the TID 0 frame's picture id is %d after %d, want %d", last.desc.picID, prev.desc.picID, want)
	}
	h.feed(0, tl0[0]) // the lost packet comes late
	out = h.sent()
	if len(out) != 6 || out[5].seq != prev.seq+1 || !out[5].desc.start || out[5].desc.picID != last.desc.picID {
		t.Fatalf("the late packet went out as %+v, want seq %d, picture %d", out[len(out)-1], prev.seq+1, last.desc.picID)
	}
	checkContinuous(t, []sent{out[0], out[1], out[2], out[3], out[5], out[4]})
	h.d.resend(prev.seq + 1) // a NACK for it: resent
	if out = h.sent(); len(out) != 7 || out[6].seq != prev.seq+1 || out[6].desc.picID != last.desc.picID {
		t.Fatalf("the NACK got %+v, want seq %d, picture %d", out[len(out)-1], prev.seq+1, last.desc.picID)
	}

	tid2 := h.packets(s, s.next(false)) // TID 2: dropped, its last packet lost on the way in
	h.feed(0, tid2[0])
	h.frame(s, s.next(false)) // TID 1
	h.feed(0, tid2[1])        // late: dropped too
	h.d.resend(last.seq + 1)  // the hole it left: nothing the subscriber needs
	out = h.sent()
	if len(out) != 9 || out[7].seq != last.seq+2 || out[7].desc.tid != 1 {
		t.Fatalf("%d packets sent, the TID 1 frame as %+v; want 9, from seq %d", len(out), out[7], last.seq+2)
	}

	h.frame(s, s.next(false))   // TID 2: dropped
	h.packets(s, s.next(false)) // TID 0: lost whole on the way in
	h.frame(s, s.next(false))   // TID 2: dropped
	h.frame(s, s.next(false))   // TID 1
	out = h.sent()
	if len(out) != 11 {
		t.Fatalf("%d packets sent, want 11", len(out))
	}
	if a, b := out[8], out[9]; b.desc.picID != (a.desc.picID+2)&0x7fff || b.desc.tl0 != a.desc.tl0+1 {
		t.Errorf("after a TID 0 frame lost amid dropped ones: picture %d TL0PICIDX %d after %d, %d; want holes of one in both",
			b.desc.picID, b.desc.tl0, a.desc.picID, a.desc.tl0)
	}
}

// TestReceivingTemporal: the admin snapshot says which of a layer's
// temporal layers a subscriber gets.
func TestReceivingTemporal(t *testing.T) {
	h := newTHarness(t, 1)
	h.up.owner, h.up.trackID = &Session{id: "pub"}, "v"
	h.d.sub.downs = map[*upTrack]*downTrack{h.up: h.d}
	h.d.ttarget.Store(1)
	s := &l1t3{ssrc: 10, seq: 1, pic: 1, wide: true}
	h.frame(s, s.next(true))
	for range 7 {
		h.frame(s, s.next(false))
	}
	rc := h.d.sub.receiving()
	if len(rc.Video) != 1 || rc.Video[0].Temporal != 1 || rc.Video[0].Temporals != 3 {
		t.Fatalf("Receiving: %+v, want temporal layer 1 of 3", rc.Video)
	}
	h.d.ttarget.Store(noTemporalLimit)
	if v := h.d.sub.receiving().Video[0]; v.Temporal != 2 {
		t.Errorf("all of them forwarded: temporal layer %d, want 2", v.Temporal)
	}
}

// TestTemporalAcrossLayerSwitch: a simulcast switch (at the new layer's
// key frame) continues the subscriber's sequence, picture ids and
// TL0PICIDX from what it had, and the temporal limit applies to the new
// layer at once. A NACK after all that gets the very bytes first sent.
func TestTemporalAcrossLayerSwitch(t *testing.T) {
	h := newTHarness(t, 2)
	lo := &l1t3{ssrc: 10, layer: 0, seq: 100, pic: 500, wide: true, tl0: 10, ts: 0}
	hi := &l1t3{ssrc: 20, layer: 1, seq: 40000, pic: 32760, wide: true, tl0: 3, ts: 777}
	h.d.ttarget.Store(1)
	h.frame(lo, lo.next(true))
	for range 6 {
		h.frame(lo, lo.next(false))
		hi.next(false) // the other layer goes on meanwhile, unforwarded
	}
	h.d.target.Store(1)
	h.frame(hi, hi.next(false)) // not a key frame: no switch yet
	h.frame(lo, lo.next(false))
	h.frame(hi, hi.next(true))
	for range 6 {
		h.frame(hi, hi.next(false))
		h.frame(lo, lo.next(false)) // queued before the switch: dropped
	}
	out := h.sent()
	checkContinuous(t, out)
	if got := tids(out); !slices.Equal(got, []uint8{0, 1, 0, 1, 0, 1, 0, 1}) {
		t.Errorf("frames of TIDs %v", got)
	}
	// Every forwarded packet of the high layer, NACKed, comes back as sent.
	for _, i := range []int{len(out) - 1, len(out) - 6, 3} {
		before := len(h.sent())
		h.d.resend(out[i].seq)
		after := h.sent()
		if len(after) != before+1 {
			t.Fatalf("NACK of %d: %d packets resent", out[i].seq, len(after)-before)
		}
		if got := after[len(after)-1].raw; string(got) != string(out[i].raw) {
			t.Errorf("NACK of %d: resent\n%x\nfirst sent\n%x", out[i].seq, got, out[i].raw)
		}
	}
}

// TestTemporalNoTBit: a stream without temporal layers is forwarded whole
// and unchanged whatever the temporal limit.
func TestTemporalNoTBit(t *testing.T) {
	h := newTHarness(t, 1)
	h.d.ttarget.Store(0)
	seq := uint16(1)
	for i := range 8 {
		pl := []byte{0x90, 0x80, 0x80 | byte(i>>8), byte(i), 0x01, 9, 9}
		if i == 0 {
			pl[4] = 0x00
		}
		p := &l1t3{ssrc: 10, seq: seq}
		raw := rawPacket(t, p.seq, uint32(i*3000), pl)
		seq++
		pk := h.srv.pool.Get().(*packet)
		pk.refs.Store(1)
		pk.parse(copy(pk.buf[:], raw))
		pk.classifyVideo()
		h.up.layer(0).noteTemporal(pk, len(raw))
		h.d.write(pk)
		pk.release()
	}
	out := h.sent()
	if len(out) != 8 {
		t.Fatalf("%d packets forwarded, want 8", len(out))
	}
	for i, s := range out {
		if s.desc.picID != uint16(i) {
			t.Errorf("packet %d: picture id %d changed", i, s.desc.picID)
		}
	}
	if n := h.up.layer(0).temporalLayers(); n != 1 {
		t.Errorf("temporalLayers = %d, want 1", n)
	}
}

// TestTemporalWriteAllocates: dropping and forwarding with rewritten
// descriptors allocates nothing per packet once the subscriber's payload
// buffer exists.
func TestTemporalWriteAllocates(t *testing.T) {
	h := newTHarness(t, 1)
	h.w.keepAll = false
	s := &l1t3{ssrc: 10, seq: 1, pic: 1, wide: true}
	h.d.ttarget.Store(1)
	mk := func(f vp8Frame) []*packet {
		var ps []*packet
		for _, pl := range f.payloads() {
			raw := rawPacket(t, s.seq, f.ts, pl)
			s.seq++
			p := &packet{pool: h.srv.pool}
			p.refs.Store(1 << 30)
			p.parse(copy(p.buf[:], raw))
			p.classifyVideo()
			ps = append(ps, p)
		}
		return ps
	}
	var ps []*packet
	for i := range 8 {
		ps = append(ps, mk(s.next(i == 0))...)
	}
	for _, p := range ps {
		h.d.write(p)
	}
	allocs := testing.AllocsPerRun(50, func() {
		for _, p := range ps {
			p.hdr.SequenceNumber += uint16(len(ps))
			p.hdr.Timestamp += 48000
			p.vp8.picID = (p.vp8.picID + 8) & 0x7fff
			p.keyframe = false
			h.d.write(p)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per 8 frames, want 0", allocs)
	}
	if h.w.n.Load() == 0 {
		t.Error("nothing written")
	}
}

// TestAllocateTemporal: 24 tiles whose lowest layer is 100 kbit/s at full
// frame rate (L1T3: 50 kbit/s at TID 0, 75 at TID ≤ 1) behind a budget
// where only 15 fit at full rate: every tile moves (none paused), at a
// quarter of the frame rate, and the first twelve by priority at half;
// with more budget every tile gets its lowest layer whole before any gets
// the next layer.
func TestAllocateTemporal(t *testing.T) {
	mk := func() *upTrack {
		u := &upTrack{nLayers: 3, kind: webrtc.RTPCodecTypeVideo}
		for i, r := range []int64{100_000, 300_000, 1_000_000} {
			l := &upLayer{index: i}
			l.rate.Store(r)
			l.tids.Store(3)
			l.trate[0].Store(r / 2)
			l.trate[1].Store(r * 3 / 4)
			l.trate[2].Store(r)
			u.layers[i].Store(l)
		}
		return u
	}
	items := func(n int) []allocItem {
		out := make([]allocItem, n)
		for i := range out {
			out[i] = allocItem{d: &downTrack{up: mk()}, want: 0, prev: noLimit, prevT: noTemporalLimit}
		}
		out[0].want = 2 // the speaker
		return out
	}
	run := func(budget int) []allocItem {
		it := items(24)
		left, _ := allocLowest(it, budget, true)
		allocRaise(it, left, true)
		return it
	}
	it := run(1_500_000) // 15 tiles' lowest layer at full rate, 24 at TID 0 and 300k left
	for i, x := range it {
		want := 0
		if i < 12 {
			want = 1 // 300k / 25k
		}
		if x.limit != 0 || x.tlimit != want {
			t.Errorf("1.5 Mbit/s: tile %d at (%d, T%d), want (0, T%d)", i, x.limit, x.tlimit, want)
		}
	}
	// Half the frame rate everywhere (24 × 75k = 1.8 M), then the speaker
	// as sharp as what is left allows, then the full frame rate for the
	// others, by priority, while the rest lasts (25k a tile).
	for _, c := range []struct {
		budget, speaker, fullRate int
	}{
		{2_100_000, 1, 3}, // 300k left: layer 1 costs 225k more, layer 2 700k
		{2_800_000, 2, 3}, // 1 M left: layer 2 costs 925k more
		{4_000_000, 2, 23},
	} {
		it = run(c.budget)
		if it[0].limit != c.speaker || it[0].tlimit != 2 {
			t.Errorf("%d bit/s: speaker at (%d, T%d), want (%d, T2)", c.budget, it[0].limit, it[0].tlimit, c.speaker)
		}
		for i, x := range it[1:] {
			want := 1
			if i < c.fullRate {
				want = 2
			}
			if x.limit != 0 || x.tlimit != want {
				t.Errorf("%d bit/s: tile %d at (%d, T%d), want (0, T%d)", c.budget, i+1, x.limit, x.tlimit, want)
			}
		}
	}
	// Without temporal layers only what fits at full rate moves.
	it = items(24)
	for _, x := range it {
		for i := range 3 {
			x.d.up.layer(i).tids.Store(0)
		}
	}
	left, _ := allocLowest(it, 1_500_000, true)
	allocRaise(it, left, true)
	paused := 0
	for _, x := range it {
		if x.limit < 0 {
			paused++
		}
	}
	if paused != 9 {
		t.Errorf("without temporal layers: %d paused, want 9", paused)
	}
}

// TestKeepFrameRate: without loss a tile keeps the frame rate it had of
// the lowest layer (all of it when it had a higher layer), whatever the
// estimate; with loss, or for a tile new to the allocation, it does not.
func TestKeepFrameRate(t *testing.T) {
	u := &upTrack{nLayers: 2, kind: webrtc.RTPCodecTypeVideo}
	for i, r := range []int64{100_000, 300_000} {
		l := &upLayer{index: i}
		l.rate.Store(r)
		l.tids.Store(3)
		l.trate[0].Store(r / 2)
		l.trate[1].Store(r * 3 / 4)
		u.layers[i].Store(l)
	}
	items := []allocItem{
		{d: &downTrack{up: u}, want: 1, prev: 1, prevT: noTemporalLimit},
		{d: &downTrack{up: u}, want: 1, prev: 0, prevT: 1},
		{d: &downTrack{up: u}, want: 1, prev: noLimit, prevT: noTemporalLimit},
	}
	left, _ := allocLowest(items, 150_000, true)
	if left != 0 {
		t.Fatalf("lowest rungs left %d", left)
	}
	if left = keepFrameRate(items, left, false); left != -75_000 {
		t.Errorf("budget after keeping %d, want -75000 (50k + 25k kept)", left)
	}
	if items[0].tlimit != 2 || items[1].tlimit != 1 || items[2].tlimit != 0 {
		t.Errorf("kept T%d, T%d, T%d; want T2, T1, T0", items[0].tlimit, items[1].tlimit, items[2].tlimit)
	}
	allocLowest(items, 150_000, true)
	if left = keepFrameRate(items, 0, true); left != 0 || items[0].tlimit != 0 {
		t.Errorf("while losing: budget %d, first tile T%d; want 0, T0", left, items[0].tlimit)
	}
}

// TestTemporalRates: the reader's per-TID counts become cumulative rates.
func TestTemporalRates(t *testing.T) {
	srv := &Server{epoch: time.Now()}
	l := newUpLayer(0, "", nil, true)
	u := &upTrack{srv: srv, kind: webrtc.RTPCodecTypeVideo, nLayers: 1}
	u.layers[0].Store(l)
	now := int64(1e9)
	l.updateRate(now)
	for i := range 100 {
		tid := [4]uint8{0, 2, 1, 2}[i%4]
		p := &packet{arrival: now, vp8: vp8Desc{hasTID: true, tid: tid}, payload: []byte{1}}
		l.noteArrival(p)
		n := 1000
		if tid == 0 {
			n = 2000 // TL0 frames are larger
		}
		l.meter.bytes.Add(uint64(n))
		l.noteTemporal(p, n)
	}
	now += 1e9
	l.lastAt.Store(now)
	l.updateRate(now)
	if got := u.layerRateT(0, 0); got != 25*2000*8 {
		t.Errorf("TID 0: %d bit/s, want %d", got, 25*2000*8)
	}
	if got := u.layerRateT(0, 1); got != (25*2000+25*1000)*8 {
		t.Errorf("TID ≤ 1: %d bit/s", got)
	}
	if got, all := u.layerRateT(0, 2), u.layerRate(0); got != all || all != 125000*8 {
		t.Errorf("TID ≤ 2: %d bit/s, all %d", got, all)
	}
	if n := l.temporalLayers(); n != 3 {
		t.Errorf("temporalLayers = %d", n)
	}
}
