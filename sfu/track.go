package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// maxReadErrors is how many consecutive non-fatal read errors (a packet too
// big for the buffer, an unknown payload type) a track tolerates before it
// is treated as gone: a broken stream must not spin a goroutine.
const maxReadErrors = 64

// upTrack is one track a participant publishes: one reader goroutine that
// fans each packet out to the subscribers' queues.
//
// Ownership: the identity fields are set before run starts and never change;
// downs is replaced (copy on write) under mu and loaded without a lock by
// the reader, once per packet; the key-frame throttle is guarded by mu;
// speech is an atomic counter shared with the room's speaker loop.
type upTrack struct {
	srv      *Server
	owner    *Session
	remote   *webrtc.TrackRemote
	receiver *webrtc.RTPReceiver

	kind       webrtc.RTPCodecType
	mimeType   string
	clockRate  uint32
	ssrc       uint32
	extensions []webrtc.RTPHeaderExtensionParameter // the publisher's negotiated ids
	levelID    uint8                                // audio-level extension id, 0 if none
	writeRTCP  func([]rtcp.Packet) error            // to the publisher: its PeerConnection's WriteRTCP

	// Set by room.addTrack before anyone subscribes.
	trackID, streamID string
	order             uint64 // publication order in the room

	downs atomic.Pointer[[]*downTrack]
	cache *packetCache // video only: what NACKs are answered from

	// speech counts audio packets louder than speechLevel since the
	// speaker loop last looked (speaker.go).
	speech atomic.Uint32

	mu       sync.Mutex // guards the fields below
	kf       throttle
	kfTimer  *time.Timer
	stopped  bool
	attached int // len(*downs), for the Subscriptions gauge
}

func newUpTrack(owner *Session, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *upTrack {
	codec := remote.Codec()
	u := &upTrack{
		srv:        owner.srv,
		owner:      owner,
		remote:     remote,
		receiver:   receiver,
		kind:       remote.Kind(),
		mimeType:   codec.MimeType,
		clockRate:  codec.ClockRate,
		ssrc:       uint32(remote.SSRC()),
		extensions: receiver.GetParameters().HeaderExtensions,
		kf:         throttle{interval: int64(keyframeInterval)},
		writeRTCP:  owner.pc.WriteRTCP,
	}
	if u.kind == webrtc.RTPCodecTypeVideo {
		u.cache = &packetCache{}
	}
	if u.clockRate == 0 {
		u.clockRate = clockRateVideo
		if u.kind == webrtc.RTPCodecTypeAudio {
			u.clockRate = clockRateAudio
		}
	}
	for _, e := range u.extensions {
		if e.URI == audioLevelURI && e.ID > 0 && e.ID < 256 {
			u.levelID = uint8(e.ID)
		}
	}
	empty := []*downTrack{}
	u.downs.Store(&empty)
	return u
}

// run is the track's reader: it owns remote.Read until the track ends
// (the publisher removed it, or its PeerConnection closed).
func (u *upTrack) run() {
	defer u.stop()
	errs := 0
	for {
		p := u.srv.pool.Get().(*packet)
		p.refs.Store(1)
		n, _, err := u.remote.Read(p.buf[:])
		if err != nil {
			p.release()
			if errs++; fatalReadError(err) || errs > maxReadErrors {
				return
			}
			continue
		}
		errs = 0
		if !p.parse(n) {
			p.release()
			continue
		}
		p.arrival = u.srv.now()
		if u.kind == webrtc.RTPCodecTypeVideo {
			p.keyframe = vp8KeyframeStart(p.payload)
			u.cache.add(p)
		} else {
			p.keyframe = false
			u.noteAudioLevel(p)
		}
		u.dispatch(p)
	}
}

// fatalReadError tells a closed stream from a bad packet.
func fatalReadError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

// dispatch hands p to every subscriber's queue without ever waiting: a full
// queue drops the packet for that subscriber only. The caller's reference
// (refs == 1) is released here.
func (u *upTrack) dispatch(p *packet) {
	downs := *u.downs.Load()
	p.refs.Add(int32(len(downs)))
	for _, d := range downs {
		select {
		case d.sub.queue <- fwd{d: d, p: p}:
		default:
			p.release()
			u.srv.ctr.dropped.Add(1)
		}
	}
	p.release()
}

// attach adds d to the fan-out (called from downTrack.Bind).
func (u *upTrack) attach(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	u.downs.Store(&next)
	u.attached++
	u.srv.ctr.subscriptions.Add(1)
}

// detach removes d from the fan-out (called from downTrack.Unbind).
func (u *upTrack) detach(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	if len(next) == len(old) {
		return
	}
	u.downs.Store(&next)
	u.attached--
	u.srv.ctr.subscriptions.Add(-1)
}

// stop runs when the reader ends: the track leaves the room (subscribers
// renegotiate it away) and no key-frame request outlives it.
func (u *upTrack) stop() {
	u.owner.room.removeTrack(u)
	u.mu.Lock()
	u.stopped = true
	if u.kfTimer != nil {
		u.kfTimer.Stop()
	}
	u.mu.Unlock()
	if u.cache != nil {
		u.cache.clear()
	}
	u.srv.ctr.tracks.Add(-1)
}
