package pionpeer

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"golang.org/x/image/vp8"
)

// TestSyntheticKeyFramesDecode: a synthetic key frame, reassembled from its
// RTP packets as a receiver's depacketizer does (descriptor stripped, the
// stamps at each packet's end left in), decodes with a real VP8 decoder
// (golang.org/x/image/vp8, independent of the writer) at the size it
// declares, as a flat picture.
func TestSyntheticKeyFramesDecode(t *testing.T) {
	for _, sz := range [][2]int{{320, 180}, {640, 360}, {320, 240}} {
		v := &videoSource{fps: 30, bitrate: 1_000_000, keyEvery: 90, width: sz[0], height: sz[1]}
		var frame []byte
		v.write = func(p *rtp.Packet) { frame = append(frame, p.Payload[vp8DescriptorLen:]...) }
		v.sendFrame()
		d := vp8.NewDecoder()
		d.Init(bytes.NewReader(frame), len(frame))
		fh, err := d.DecodeFrameHeader()
		if err != nil || !fh.KeyFrame || fh.Width != sz[0] || fh.Height != sz[1] {
			t.Fatalf("%v: frame header %+v, %v", sz, fh, err)
		}
		img, err := d.DecodeFrame()
		if err != nil {
			t.Fatalf("%v: decode: %v", sz, err)
		}
		if y := img.Y[len(img.Y)/2]; y < 100 || y > 160 {
			t.Errorf("%v: luma %d in the middle, want a flat grey", sz, y)
		}
	}
}

// TestBoolEncoderRoundTrip checks the §7.3 encoder against a §7.3 decoder
// written out here, over bools at assorted probabilities.
func TestBoolEncoderRoundTrip(t *testing.T) {
	type bit struct {
		p uint8
		v bool
	}
	var bits []bit
	for i := range 5000 {
		bits = append(bits, bit{uint8(1 + i*37%255), i%3 == 0 || i%7 == 0})
	}
	e := newBoolEncoder(nil)
	for _, b := range bits {
		e.put(b.p, b.v)
	}
	data := e.flush()
	// RFC 6386 §7.3 bool_decoder, with a 2-byte window.
	value := uint32(data[0])<<8 | uint32(data[1])
	pos, rng, count := 2, uint32(255), 0
	for i, b := range bits {
		split := 1 + (((rng - 1) * uint32(b.p)) >> 8)
		bigSplit := split << 8
		got := value >= bigSplit
		if got {
			rng -= split
			value -= bigSplit
		} else {
			rng = split
		}
		for rng < 128 {
			value <<= 1
			rng <<= 1
			if count++; count == 8 {
				count = 0
				if pos < len(data) {
					value |= uint32(data[pos])
				}
				pos++
			}
		}
		if got != b.v {
			t.Fatalf("bool %d (p %d): decoded %v, wrote %v", i, b.p, got, b.v)
		}
	}
}
