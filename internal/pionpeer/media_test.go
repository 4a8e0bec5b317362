package pionpeer

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
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
}

// TestVideoPacketization checks the synthetic VP8 against RFC 7741 as
// pion's own depacketizer reads it: descriptor with a 15-bit PictureID, S on
// each frame's first packet, marker on its last, one timestamp per frame,
// the key-frame bit in the VP8 header, a stamp in every packet.
func TestVideoPacketization(t *testing.T) {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	v := &videoSource{track: track, fps: 10, bitrate: 800_000, keyEvery: 10}
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
