package pionpeer

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

func TestKindStringParse(t *testing.T) {
	for _, k := range []Kind{KindAudio, KindVideo} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("screen"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ParseKind(screen) err = %v", err)
	}
	if s := Kind(9).String(); s != "Kind(9)" {
		t.Errorf("Kind(9).String() = %q", s)
	}
}

func TestPathStringParse(t *testing.T) {
	for _, p := range []Path{PathNone, PathMesh, PathSFU} {
		got, err := ParsePath(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePath(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePath("relay"); !errors.Is(err, ErrUnknownPath) {
		t.Errorf("ParsePath(relay) err = %v", err)
	}
	if s := Path(7).String(); s != "Path(7)" {
		t.Errorf("Path(7).String() = %q", s)
	}
}

func TestStampRoundTrip(t *testing.T) {
	b := make([]byte, 40)
	now := time.Now()
	putStamp(b, Stamp{Seq: 7, Sent: now})
	s, ok := ParseStamp(b)
	if !ok || s.Seq != 7 || !s.Sent.Equal(time.Unix(0, now.UnixNano())) {
		t.Fatalf("ParseStamp = %+v, %v", s, ok)
	}
	if _, ok := ParseStamp(b[:len(b)-1]); ok {
		t.Error("a truncated payload parsed as stamped")
	}
	if _, ok := ParseStamp(make([]byte, StampSize)); ok {
		t.Error("zeros parsed as stamped")
	}
	if string(b[len(b)-StampSize:][:4]) != "PRLY" {
		t.Errorf("a stamp without a layer starts %q, want PRLY", b[len(b)-StampSize:][:4])
	}
	for _, l := range []string{"q", "h", "f"} {
		putStamp(b, Stamp{Seq: 9, Sent: now, Layer: l})
		if s, ok := ParseStamp(b); !ok || s.Layer != l || s.Seq != 9 {
			t.Errorf("layer %s: ParseStamp = %+v, %v", l, s, ok)
		}
	}
	b[len(b)-StampSize+3] = 'x'
	if _, ok := ParseStamp(b); ok {
		t.Error("an unknown layer byte parsed as stamped")
	}
}

// TestVideoPacketization checks the synthetic VP8 against RFC 7741 as
// pion's own depacketizer reads it: descriptor with a 15-bit PictureID, S on
// each frame's first packet, marker on its last, one timestamp per frame,
// the key-frame bit in the VP8 header, a stamp in every packet.
func TestVideoPacketization(t *testing.T) {
	v := &videoSource{fps: 10, bitrate: 800_000, keyEvery: 10}
	var got []rtp.Packet
	v.write = func(p *rtp.Packet) {
		c := *p
		c.Payload = append([]byte(nil), p.Payload...)
		got = append(got, c)
	}
	v.sendFrame() // key frame: 4 × (800 kbit/s / 8 / 10 fps × 10 / 13) ≈ 30 kB
	v.sendFrame() // delta frame
	var frames [][]rtp.Packet
	for i, p := range got {
		if len(p.Payload) > maxRTPPayload {
			t.Errorf("packet %d: payload %d bytes > %d", i, len(p.Payload), maxRTPPayload)
		}
		if _, ok := ParseStamp(p.Payload); !ok {
			t.Errorf("packet %d has no stamp", i)
		}
		var d codecs.VP8Packet
		if _, err := d.Unmarshal(p.Payload); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if d.S == 1 {
			frames = append(frames, nil)
			if d.PID != 0 || d.I != 1 || d.PictureID != uint16(len(frames)) {
				t.Errorf("packet %d: PID %d, I %d, PictureID %d", i, d.PID, d.I, d.PictureID)
			}
		}
		if len(frames) == 0 {
			t.Fatal("first packet is not a frame start")
		}
		frames[len(frames)-1] = append(frames[len(frames)-1], p)
	}
	if len(frames) != 2 {
		t.Fatalf("%d frames, want 2", len(frames))
	}
	for f, pkts := range frames {
		for i, p := range pkts {
			if p.Marker != (i == len(pkts)-1) || p.Timestamp != pkts[0].Timestamp {
				t.Errorf("frame %d packet %d: marker %v timestamp %d", f, i, p.Marker, p.Timestamp)
			}
		}
		var d codecs.VP8Packet
		if _, err := d.Unmarshal(pkts[0].Payload); err != nil {
			t.Fatal(err)
		}
		isKey := d.Payload[0]&1 == 0
		if isKey != (f == 0) {
			t.Errorf("frame %d: key frame bit %v", f, isKey)
		}
	}
	if len(frames[0]) <= len(frames[1]) {
		t.Errorf("key frame %d packets, delta %d: key frames should be larger", len(frames[0]), len(frames[1]))
	}
	if frames[1][0].SequenceNumber != frames[0][len(frames[0])-1].SequenceNumber+1 {
		t.Error("sequence numbers not consecutive across frames")
	}
}

// TestKeyFrameOnRequest: a PLI makes the next frame a key frame, and the
// periodic interval restarts from it.
func TestKeyFrameOnRequest(t *testing.T) {
	v := &videoSource{fps: 10, bitrate: 100_000, keyEvery: 5}
	var keys []bool
	v.write = func(p *rtp.Packet) {
		if p.Payload[0]&0x10 != 0 { // S: a frame's first packet
			keys = append(keys, isVP8KeyFrameStart(p.Payload))
		}
	}
	for range 3 {
		v.sendFrame()
	}
	v.requestKeyFrame()
	for range 6 {
		v.sendFrame()
	}
	want := []bool{true, false, false, true, false, false, false, false, true}
	if len(keys) != len(want) {
		t.Fatalf("%d frames, want %d", len(keys), len(want))
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Errorf("frame %d: key %v, want %v (all: %v)", i, keys[i], want[i], keys)
		}
	}
}

func TestIsVP8KeyFrameStart(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"empty", nil, false},
		{"no descriptor extension, key", []byte{0x10, 0x10}, true},
		{"no descriptor extension, delta", []byte{0x10, 0x11}, false},
		{"not a start", []byte{0x00, 0x10}, false},
		{"partition 1", []byte{0x11, 0x10}, false},
		{"15-bit PictureID, key", []byte{0x90, 0x80, 0x81, 0x02, 0x10}, true},
		{"7-bit PictureID, delta", []byte{0x90, 0x80, 0x05, 0x11}, false},
		{"PictureID, TL0PICIDX, TID: key", []byte{0x90, 0xe0, 0x05, 0x01, 0x40, 0x10}, true},
		{"truncated after descriptor", []byte{0x90, 0x80, 0x81, 0x02}, false},
	} {
		if got := isVP8KeyFrameStart(c.payload); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// seqRecorder is an rtpWriter that keeps the sequence numbers written.
type seqRecorder struct{ seqs []uint16 }

func (r *seqRecorder) WriteRTP(p *rtp.Packet) error {
	r.seqs = append(r.seqs, p.SequenceNumber)
	return nil
}

// TestSinkGate: packets withheld from a closed sink do not show as a gap in
// its sequence numbers when it opens again (across the 16-bit wrap); an
// open sink sees them all, numbered as sent.
func TestSinkGate(t *testing.T) {
	var open atomic.Bool
	gatedRec, alwaysRec := &seqRecorder{}, &seqRecorder{}
	sinks := []*sink{{track: alwaysRec}, {track: gatedRec, open: &open}}
	for i := range 10 {
		open.Store(i < 3 || i >= 7) // closed for packets 3..6
		pkt := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(65530 + i)}, Payload: []byte{1}}
		writeTo(sinks, pkt)
		if pkt.SequenceNumber != uint16(65530+i) {
			t.Fatalf("writeTo changed the caller's sequence number")
		}
	}
	if want := []uint16{65530, 65531, 65532, 65533, 65534, 65535}; !slices.Equal(gatedRec.seqs, want) {
		t.Errorf("gated sink got %v, want %v", gatedRec.seqs, want)
	}
	if len(alwaysRec.seqs) != 10 || alwaysRec.seqs[9] != 3 {
		t.Errorf("open sink got %v, want 65530..3", alwaysRec.seqs)
	}
}

// TestVideoTemporalLayers: an L1T3 source marks every packet with its
// frame's TID (0, 2, 1, 2 from each key frame), TL0PICIDX counting TID 0
// frames, Y on the frames that reference only a TID 0 one, and gives TID
// 0 about 40 % of the bytes and TID ≤ 1 about 60 %, as libwebrtc does.
func TestVideoTemporalLayers(t *testing.T) {
	v := &videoSource{fps: 10, bitrate: 400_000, keyEvery: 1000, temporal: true}
	var bytes [3]int
	var tids []uint8
	var tl0s []uint8
	v.write = func(p *rtp.Packet) {
		var d codecs.VP8Packet
		if _, err := d.Unmarshal(p.Payload); err != nil {
			t.Fatal(err)
		}
		if d.L != 1 || d.T != 1 {
			t.Fatalf("descriptor without L or T: %x", p.Payload[:6])
		}
		bytes[d.TID] += len(p.Payload)
		if d.S == 1 {
			tids = append(tids, d.TID)
			tl0s = append(tl0s, d.TL0PICIDX)
			if y := d.Y == 1; len(tids) <= 41 && y != (len(tids)%4 == 2 || len(tids)%4 == 3) {
				t.Errorf("frame %d (TID %d): Y %v", len(tids)-1, d.TID, y)
			}
		}
		if _, ok := ParseStamp(p.Payload); !ok {
			t.Error("packet without a stamp")
		}
	}
	for range 41 {
		v.sendFrame()
	}
	if want := []uint8{0, 2, 1, 2, 0, 2, 1, 2}; !slices.Equal(tids[:8], want) {
		t.Errorf("TIDs %v, want %v…", tids[:8], want)
	}
	if tl0s[0]+1 != tl0s[4] || tl0s[4] != tl0s[7] || tl0s[4]+1 != tl0s[8] {
		t.Errorf("TL0PICIDX %v: +1 per TID 0 frame", tl0s[:9])
	}
	total := bytes[0] + bytes[1] + bytes[2]
	if s0 := bytes[0] * 100 / total; s0 < 35 || s0 > 60 { // the key frame adds a little
		t.Errorf("TID 0 has %d %% of the bytes, want 40–60", s0)
	}
	if s1 := (bytes[0] + bytes[1]) * 100 / total; s1 < 55 || s1 > 75 {
		t.Errorf("TID ≤ 1 has %d %% of the bytes", s1)
	}
	v.requestKeyFrame()
	n := len(tids)
	v.sendFrame()
	v.sendFrame()
	if tids[n] != 0 || tids[n+1] != 2 {
		t.Errorf("after a key frame: TIDs %v, want 0, 2", tids[n:])
	}
}
