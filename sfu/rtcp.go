package sfu

import (
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// RTCP the SFU handles itself: key-frame requests here, NACKs from
// subscribers in cache.go. The rest goes through pion/interceptor (api.go):
// NACKs to publishers come from the generator, sender and receiver reports
// and TWCC feedback are generated per hop.

// keyframeInterval is the least time between two key-frame requests (PLI)
// to one publisher's track. Every subscriber that loses a packet asks for a
// key frame, and every newcomer needs one: unthrottled, a 50-person room
// would make the publisher send key frames back to back (each 10–50× a
// delta frame), which causes more loss. 500 ms bounds the cost to two key
// frames per second and the wait for a picture to half a second.
const keyframeInterval = 500 * time.Millisecond

// rtcpReadBuf is the RTCP read buffer per sender; pion's receive MTU.
const rtcpReadBuf = 1500

// throttle is the pure logic of "at most one per interval, and a request
// inside the interval is not lost but deferred to its end". Times are
// nanoseconds on any monotonic clock.
type throttle struct {
	interval int64
	last     int64
	fired    bool
	pending  bool
}

// request records a request at now. It returns fire when the action must
// happen now; otherwise, if a deferred action must be scheduled, wait says
// after how long (0: one is already scheduled).
func (t *throttle) request(now int64) (fire bool, wait time.Duration) {
	if !t.fired || now-t.last >= t.interval {
		t.fired, t.last = true, now
		return true, 0
	}
	if t.pending {
		return false, 0
	}
	t.pending = true
	return false, time.Duration(t.last + t.interval - now)
}

// deferred is called when the scheduled wait ended. It reports whether the
// action must happen now (not if a request already fired meanwhile).
func (t *throttle) deferred(now int64) bool {
	t.pending = false
	if t.fired && now-t.last < t.interval {
		return false
	}
	t.fired, t.last = true, now
	return true
}

// requestKeyframe asks the publisher for a key frame of one layer (RFC 4585
// §6.3.1 Picture Loss Indication, on that layer's SSRC: a simulcast
// encoder then refreshes that encoding only), throttled per layer by
// keyframeInterval. Called from subscribers' RTCP readers (their PLI/FIR),
// from Bind (a new subscriber), from the writers' key-frame gate (a
// subscriber switching layers), and when a subscriber's transport comes
// up. A layer out of range or not arrived yet is ignored. Never blocks on
// the network for long: WriteRTCP is one UDP send.
func (u *upTrack) requestKeyframe(layer int) {
	if u.kind != webrtc.RTPCodecTypeVideo || layer < 0 || layer >= maxLayers {
		return
	}
	u.mu.Lock()
	if u.stopped {
		u.mu.Unlock()
		return
	}
	fire, wait := u.kf[layer].request(u.srv.now())
	if wait > 0 {
		if u.kfTimer[layer] == nil {
			u.kfTimer[layer] = time.AfterFunc(wait, func() { u.deferredKeyframe(layer) })
		} else {
			u.kfTimer[layer].Reset(wait)
		}
	}
	u.mu.Unlock()
	if fire {
		u.sendPLI(layer)
	}
}

func (u *upTrack) deferredKeyframe(layer int) {
	u.mu.Lock()
	fire := !u.stopped && u.kf[layer].deferred(u.srv.now())
	u.mu.Unlock()
	if fire {
		u.sendPLI(layer)
	}
}

func (u *upTrack) sendPLI(layer int) {
	l := u.layer(layer)
	if l == nil || l.ssrc.Load() == 0 {
		return
	}
	// RFC 4585 §6.3.1: MediaSSRC names the stream that lost its picture.
	err := u.writeRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc.Load()}})
	if err == nil {
		u.srv.ctr.plisSent.Add(1)
	}
}

// readRTCP drains one layer's RTCP from the publisher (sender reports,
// mostly) so that the report interceptor sees them and receiver reports
// carry a round-trip time.
func (u *upTrack) readRTCP(l *upLayer) {
	if l.rid == "" {
		buf := make([]byte, rtcpReadBuf)
		for {
			if _, _, err := u.receiver.Read(buf); err != nil {
				return
			}
		}
	}
	for {
		if _, _, err := u.receiver.ReadSimulcastRTCP(l.rid); err != nil {
			return
		}
	}
}

// readRTCP reads one subscriber's RTCP for one forwarded track until the
// sender stops (reading also feeds pion's report interceptor). NACKs are
// answered from the track's packet cache (cache.go). PLI and FIR (RFC 5104
// §3.5.1) become a throttled PLI to the publisher: a FIR's sequence-number
// semantics mean nothing once requests are merged, and every browser
// answers PLI.
func (d *downTrack) readRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, rtcpReadBuf)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue // a malformed compound packet from the client
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.up.requestKeyframe(int(d.target.Load())) // during a switch, the target's key frame also ends it
			case *rtcp.TransportLayerNack:
				d.onNACK(pkt)
			case *rtcp.TransportLayerCC:
				d.sub.dl.feedback.Store(true) // gcc saw it on the way in (bwe.go)
			}
		}
	}
}
