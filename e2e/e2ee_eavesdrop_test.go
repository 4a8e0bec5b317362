package e2e

// The eavesdropper (docs/e2ee.md): a pion client joins an SFU room through the
// real protocol, announces no key, and records the VP8 frames the SFU
// forwards to it from a browser that publishes a known picture. With E2EE
// every frame has the SFrame layout of docs/e2ee.md and no key frame
// decodes to the picture, also when the link asks for no encryption
// (?e2ee=off: no silent downgrade, docs/e2ee.md "Unencrypted rooms"); in a room the configuration
// allows unencrypted (the positive control) the same decoder shows the
// known colour.

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"golang.org/x/image/vp8"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// frameRecorder reassembles VP8 frames from RTP (start bit, marker bit).
type frameRecorder struct {
	mu     sync.Mutex
	cur    []byte
	ts     uint32
	frames [][]byte
}

func (r *frameRecorder) packet(pkt *rtp.Packet) {
	var d codecs.VP8Packet
	payload, err := d.Unmarshal(pkt.Payload)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.S == 1 && d.PID == 0 {
		r.cur = append([]byte(nil), payload...)
		r.ts = pkt.Timestamp
	} else if r.cur != nil && pkt.Timestamp == r.ts {
		r.cur = append(r.cur, payload...)
	} else {
		r.cur = nil // lost the start of this frame
	}
	if pkt.Marker && r.cur != nil {
		r.frames = append(r.frames, r.cur)
		r.cur = nil
	}
}

func (r *frameRecorder) snapshot() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slicesClone(r.frames)
}

func slicesClone(in [][]byte) [][]byte { return append([][]byte(nil), in...) }

// decodesToKnownColour reports whether a VP8 key frame decodes (with
// golang.org/x/image/vp8) to the fake camera's colour at its centre.
func decodesToKnownColour(frame []byte) (keyFrame, known bool) {
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(frame), len(frame))
	fh, err := d.DecodeFrameHeader()
	if err != nil || !fh.KeyFrame {
		return false, false
	}
	img, err := d.DecodeFrame()
	if err != nil {
		return true, false
	}
	b := img.Bounds()
	x, y := (b.Min.X+b.Max.X)/2, (b.Min.Y+b.Max.Y)/2
	yy := img.Y[img.YOffset(x, y)]
	cb, cr := img.Cb[img.COffset(x, y)], img.Cr[img.COffset(x, y)]
	near := func(a, b uint8) bool { return int(a)-int(b) < 40 && int(b)-int(a) < 40 }
	return true, near(yy, knownY) && near(cb, knownU) && near(cr, knownV)
}

// sframeTrailer parses the SFrame header carried at the end of a protected
// frame (docs/e2ee.md): its KID, or ok false when the frame has none.
func sframeTrailer(frame []byte) (kid uint64, ok bool) {
	if len(frame) < 2+16 {
		return 0, false
	}
	hl := int(frame[len(frame)-1])
	if hl < 1 || hl > 17 || hl+1+16 > len(frame) {
		return 0, false
	}
	h := frame[len(frame)-1-hl : len(frame)-1]
	cfg := h[0]
	kl, cl := 0, 0
	if cfg&0x80 != 0 {
		kl = int(cfg>>4&7) + 1
	}
	if cfg&0x08 != 0 {
		cl = int(cfg&7) + 1
	}
	if 1+kl+cl != hl {
		return 0, false
	}
	if kl == 0 {
		return uint64(cfg >> 4 & 7), true
	}
	for _, b := range h[1 : 1+kl] {
		kid = kid<<8 | uint64(b)
	}
	return kid, true
}

func TestE2EEEavesdropper(t *testing.T) {
	b := e2eeBrowser(t)
	// encrypted: the invite link; crafted: a link that asks for no
	// encryption (?e2ee=off, once honoured), which must not get
	// it; plain: a room the configuration allows unencrypted (the positive
	// control: the recorder does see the picture there).
	for _, tc := range []struct {
		name, prefix, query string
		secret, encrypted   bool
	}{
		{"encrypted", "eavesdrop", "", true, true},
		{"crafted-e2ee-off", "eavesdrop", "&e2ee=off", false, true},
		{"unencrypted-room", "plain-eavesdrop", "", false, false},
	} {
		encrypted := tc.encrypted
		t.Run(tc.name, func(t *testing.T) {
			ts := testserver.Start(t, func(c *config.Config) {
				c.Policy = "sfu-only"
				c.E2EE.UnencryptedRooms = []string{"plain-*"}
			})
			room := browserRoom(tc.prefix)
			url := browserRoomURL(ts, room, "A") + tc.query
			if tc.secret {
				url += roomSecret()
			}
			page := b.NewPage(t, url)
			waitOrDump(t, page, "A in call", `parley.state === 'in-call' && parley.sfu()?.publishing`, e2eeTimeout)
			if got := browsertest.MustEval[bool](page, `!!parley.e2ee()?.enabled`); got != encrypted {
				t.Fatalf("page encrypts: %v, want %v\ne2ee %s", got, encrypted, e2eeDump(page))
			}

			rec := &frameRecorder{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			eve, err := pionpeer.Join(ctx, pionpeer.Config{
				URL: ts.WSURL, Room: room, Name: "Eve", NoVideo: true, NoAudio: true,
				OnPacket: func(_ string, kind pionpeer.Kind, pkt *rtp.Packet, _ time.Time) {
					if kind == pionpeer.KindVideo {
						rec.packet(pkt)
					}
				},
			})
			if err != nil {
				t.Fatalf("eavesdropper join: %v", err)
			}
			defer eve.Close()

			// Enough frames, key frames among them (the SFU asks for one
			// for a new subscriber).
			deadline := time.Now().Add(e2eeTimeout)
			var frames [][]byte
			keys := 0
			for time.Now().Before(deadline) {
				frames = rec.snapshot()
				keys = 0
				for _, f := range frames {
					if len(f) > 0 && f[0]&1 == 0 {
						keys++
					}
				}
				if len(frames) >= 30 && keys >= 1 {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if len(frames) < 30 || keys < 1 {
				t.Fatalf("recorded %d frames, %d key frames; want ≥ 30 and ≥ 1\npage: %s", len(frames), keys, pageState(page))
			}

			decodedKnown, decodedKeys := 0, 0
			for _, f := range frames {
				isKey, known := decodesToKnownColour(f)
				if isKey {
					decodedKeys++
				}
				if known {
					decodedKnown++
				}
			}
			if !encrypted {
				if decodedKnown == 0 {
					t.Errorf("positive control: none of %d key frames decoded to the known colour", decodedKeys)
				}
				t.Logf("unencrypted room: %d frames, %d key frames, %d decode to the known picture", len(frames), decodedKeys, decodedKnown)
				return
			}
			if decodedKnown != 0 {
				t.Errorf("%d of %d key frames the SFU forwarded decode to the known picture", decodedKnown, decodedKeys)
			}
			// A is alone in its MLS group (Eve, a pion client, never asks to
			// join it): every frame carries A's one KID (RFC 9605 §5.2:
			// leaf 0, epoch 0).
			kid := uint64(browsertest.MustEval[float64](page, `parley.e2ee().kid`))
			for i, f := range frames {
				k, ok := sframeTrailer(f)
				if !ok {
					t.Fatalf("frame %d (%d bytes) has no SFrame trailer: % x", i, len(f), f[max(0, len(f)-24):])
				}
				if k != kid {
					t.Fatalf("frame %d: KID %#x is not A's (%#x)", i, k, kid)
				}
			}
			t.Logf("encrypted: %d frames, all with A's SFrame trailer; %d key frames, none decodes to the picture", len(frames), decodedKeys)
		})
	}
}
