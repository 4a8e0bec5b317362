package sfu

import (
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// Simulcast (RFC 8853): a browser in an SFU room sends its camera as up to
// maxLayers encodings of the same picture at different resolutions, each
// with its own SSRC and an RTP stream id (RID) announced in the SDP
// (`a=rid`, `a=simulcast:send q;h;f`). pion gives each encoding its own
// TrackRemote on the same RTPReceiver; the SFU reads each one into an
// upLayer of the one published track (upTrack) and forwards, to every
// subscriber, exactly one of them (downTrack.write picks; view.go says
// which one).
//
// Layer order is the order of the RIDs in the SDP: the client lists its
// encodings lowest resolution first (docs/sfu.md). The SFU also reads each
// layer's real size from its key frames (the VP8 key-frame header, which
// E2EE leaves in clear), so the choice of "the smallest layer that fills
// the tile" uses what is actually sent, not a guess from the RID.

// maxLayers is how many simulcast encodings of one track the SFU reads:
// three (¼, ½ and full resolution) cover a 360 px thumbnail to a full-screen
// 1080p tile in steps of two. Further encodings are read and discarded.
const maxLayers = 3

// layerTimeout is how long a layer may send nothing before the SFU stops
// choosing it: the publisher's encoder dropped it (a bandwidth-limited
// browser turns its top layer off) or dynacast paused it. One second is
// many frame intervals even at a screen share's low frame rate, and short
// enough that a subscriber moves to a layer that flows before its picture
// freezes for long.
const layerTimeout = time.Second

// layerRamp is how long a layer that starts sending again is sized at
// least as it was while stopped (view.go, layerDims). Chromium sends a
// restarted top layer small at first, while its lower layers still take
// the uplink (quality limitation "bandwidth"): judged by those frames, the
// top layer was smaller than the one below, no longer wanted, stopped
// (dynacastHold) and wanted again, every ≈2.5 s (two runs in ten of
// BenchmarkDynacastPublisherCPU). Four seconds covers the hold after which
// dynacast stops the layers nobody wants, so the top one gets the uplink,
// and a few of its key frames after that.
const layerRamp = 4 * time.Second

// upLayer is one simulcast encoding of a published video track (or the
// only encoding of a track sent without simulcast: layer 0).
//
// Ownership: index, rid and remote are fixed at creation; cache is the
// layer's own (filled by its reader); the atomics are written by the
// reader and read by anyone.
type upLayer struct {
	index  int
	rid    string
	remote *webrtc.TrackRemote
	cache  *packetCache // video only

	ssrc   atomic.Uint32 // the layer's SSRC, as last seen on a packet
	lastAt atomic.Int64  // Server.now() of its last media packet (noteArrival); 0 before any
	since  atomic.Int64  // Server.now() when it last started sending after a gap (layerRamp)
	size   atomic.Uint32 // width<<16 | height from its last key frame; 0 before one

	meter meter        // bytes in (reader), turned into rate by the room's loop (alloc.go)
	rate  atomic.Int64 // bits/s, smoothed; 0 while the layer sends nothing
	known atomic.Int64 // the last rate measured while it sent: its cost once dynacast stopped it

	// Temporal layers (temporal.go): the reader counts bytes per TID
	// and the highest TID seen (plus one; 0: none, one temporal layer);
	// the room's loop turns the counts into the cumulative rates of TID
	// ≤ t (alloc.go updateRate).
	tbytes [maxTemporal]atomic.Uint64
	tids   atomic.Int32
	trate  [maxTemporal]atomic.Int64 // bits/s of TID ≤ t, smoothed
	tknown [maxTemporal]atomic.Int64 // the last trate measured while it sent
	tlast  [maxTemporal]uint64       // room loop: tbytes at the last update
}

// noteTemporal counts a video packet of n bytes toward its temporal
// layer's rate. Reader only.
func (l *upLayer) noteTemporal(p *packet, n int) {
	t := 0
	if p.vp8.hasTID {
		t = min(int(p.vp8.tid), maxTemporal-1)
		if int32(t+1) > l.tids.Load() {
			l.tids.Store(int32(t + 1))
		}
	}
	l.tbytes[t].Add(uint64(n))
}

// temporalLayers is how many temporal layers the layer has been seen to
// send: 1 for a stream without the T bit.
func (l *upLayer) temporalLayers() int {
	return max(1, int(l.tids.Load()))
}

func newUpLayer(index int, rid string, remote *webrtc.TrackRemote, video bool) *upLayer {
	l := &upLayer{index: index, rid: rid, remote: remote}
	if video {
		l.cache = &packetCache{}
	}
	if remote != nil {
		l.ssrc.Store(uint32(remote.SSRC()))
	}
	return l
}

// dims returns the layer's width and height from its last key frame, 0, 0
// before one arrived.
func (l *upLayer) dims() (w, h int) {
	s := l.size.Load()
	return int(s >> 16), int(s & 0xffff)
}

// noteArrival records a packet of the layer for live. Only packets that
// carry media count: a browser keeps sending padding-only packets (its
// bandwidth probes, RFC 3550 §5.1 padding, on the media SSRC when no RTX is
// negotiated) on an encoding whose encoder produces nothing — Chromium
// drops its top simulcast layer when its CPU or uplink cannot keep it,
// and then pads on that SSRC. Counted as flowing, such a layer was chosen
// and kept, the subscriber waited for a key frame that never came, and its
// tile froze for good (docs/sfu.md "Media").
func (l *upLayer) noteArrival(p *packet) {
	if len(p.payload) == 0 {
		return
	}
	if prev := l.lastAt.Swap(p.arrival); prev == 0 || p.arrival-prev > int64(layerTimeout) {
		l.since.Store(p.arrival)
	}
}

// ramping says the layer started sending again less than layerRamp ago.
func (l *upLayer) ramping(now int64) bool {
	return l.live(now) && now-l.since.Load() < int64(layerRamp)
}

// live says the layer sent a media packet within layerTimeout of now.
func (l *upLayer) live(now int64) bool {
	at := l.lastAt.Load()
	return at != 0 && now-at <= int64(layerTimeout)
}

// vp8KeyframeSize returns the picture size a VP8 key frame declares (RFC
// 6386 §9.1: after the 3-byte frame tag, the start code 9d 01 2a and two
// 16-bit little-endian fields whose low 14 bits are width and height). It
// reads the 10 bytes E2EE leaves in clear on key frames and nothing else;
// payload starts at the VP8 payload descriptor. ok is false when the
// packet is not a key frame's first or is too short.
func vp8KeyframeSize(payload []byte) (w, h int, ok bool) {
	i, ok := vp8HeaderOffset(payload)
	if !ok || len(payload) < i+10 || payload[i]&0x01 != 0 {
		return 0, 0, false
	}
	f := payload[i:]
	if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	w = int(f[6]) | int(f[7]&0x3f)<<8
	h = int(f[8]) | int(f[9]&0x3f)<<8
	return w, h, w > 0 && h > 0
}
