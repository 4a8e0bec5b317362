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
