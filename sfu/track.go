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

// upTrack is one track a participant publishes: one reader goroutine per
// layer (one for a track sent without simulcast) that fans each packet out
// to the subscribers' queues.
//
// Ownership: the identity fields are set before the first reader starts
// and never change; layers[i] is stored once, by addLayer, before that
// layer's reader starts, and loaded without a lock; downs is replaced (copy
// on write) under mu and loaded without a lock by the readers, once per
// packet; the key-frame throttles and the reader count are guarded by mu;
// speech is an atomic counter shared with the room's speaker loop;
// dynacast is owned by the room's layer loop (view.go).
type upTrack struct {
	srv      *Server
	owner    *Session
	remote   *webrtc.TrackRemote // the first layer's: ids and codec
	receiver *webrtc.RTPReceiver

	kind       webrtc.RTPCodecType
	mimeType   string
	clockRate  uint32
	extensions []webrtc.RTPHeaderExtensionParameter // the publisher's negotiated ids
	levelID    uint8                                // audio-level extension id, 0 if none
	writeRTCP  func([]rtcp.Packet) error            // to the publisher: its PeerConnection's WriteRTCP
	nLayers    int                                  // layers announced in the SDP (1 without simulcast), ≤ maxLayers

	// Set by room.addTrack before anyone subscribes.
	trackID, streamID string
	order             uint64 // publication order in the room

	layers [maxLayers]atomic.Pointer[upLayer]
	downs  atomic.Pointer[[]*downTrack]

	// speech counts audio packets louder than speechLevel since the
	// speaker loop last looked (speaker.go).
	speech atomic.Uint32
	// muted: a large room does not forward this audio now (audio.go);
	// set by the room's loop, read by the reader.
	muted atomic.Bool

	// dynacast is the set of layers (bit i: layer i) last reported to the
	// publisher as wanted; owned by the room's layer loop.
	dynacast   uint32
	reported   bool
	reportedAt int64            // when the last report went out (sent or repeated)
	wantedAt   [maxLayers]int64 // when some subscriber last wanted each layer

	mu       sync.Mutex // guards the fields below
	kf       [maxLayers]throttle
	kfTimer  [maxLayers]*time.Timer
	stopped  bool
	readers  int // layer readers running; the track ends with the last
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
		extensions: receiver.GetParameters().HeaderExtensions,
		writeRTCP:  owner.pc.WriteRTCP,
		nLayers:    min(max(1, len(receiver.Tracks())), maxLayers),
	}
	if remote.RID() == "" {
		u.nLayers = 1
	}
	for i := range u.kf {
		u.kf[i] = throttle{interval: int64(keyframeInterval)}
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

// layerIndex is where remote sits among the track's simulcast layers: its
// RID's position in the SDP (lowest resolution first), or -1 for an
// encoding beyond maxLayers.
func (u *upTrack) layerIndex(remote *webrtc.TrackRemote) int {
	if remote.RID() == "" {
		return 0
	}
	for i, t := range u.receiver.Tracks() {
		if t.RID() == remote.RID() {
			if i >= maxLayers {
				return -1
			}
			return i
		}
	}
	return -1
}

// addLayer registers a layer and counts its reader, which the caller then
// starts. It reports false when the track already ended or the slot is
// taken (the same RID twice).
func (u *upTrack) addLayer(l *upLayer) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped || !u.layers[l.index].CompareAndSwap(nil, l) {
		return false
	}
	u.readers++
	return true
}

// layer returns layer i, nil if it has not arrived (or i is out of range).
func (u *upTrack) layer(i int) *upLayer {
	if i < 0 || i >= maxLayers {
		return nil
	}
	return u.layers[i].Load()
}

// run is one layer's reader: it owns l.remote.Read until the layer ends
// (the publisher removed the track, or its PeerConnection closed).
func (u *upTrack) run(l *upLayer) {
	defer u.readerDone()
	errs := 0
	for {
		p := u.srv.pool.Get().(*packet)
		p.refs.Store(1)
		n, _, err := l.remote.Read(p.buf[:])
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
		p.layer = int8(l.index)
		l.noteArrival(p)
		l.meter.bytes.Add(uint64(n))
		if l.ssrc.Load() != p.hdr.SSRC {
			l.ssrc.Store(p.hdr.SSRC)
		}
		if u.kind == webrtc.RTPCodecTypeVideo {
			p.classifyVideo()
			l.noteTemporal(p, n)
			if p.keyframe {
				if w, h, ok := vp8KeyframeSize(p.payload); ok {
					l.size.Store(uint32(w)<<16 | uint32(h))
				}
			}
			l.cache.add(p)
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
	if u.muted.Load() {
		p.release()
		return
	}
	downs := *u.downs.Load()
	p.refs.Add(int32(len(downs)))
	for _, d := range downs {
		if !d.accepts(p.layer) {
			p.release()
			continue
		}
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
	d.attached = true
	u.srv.ctr.pausedGauge(d.target.Load(), d.pausedBW).Add(1)
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
	d.attached = false
	u.srv.ctr.pausedGauge(d.target.Load(), d.pausedBW).Add(-1)
}

// readerDone runs when a layer's reader ends; the last one stops the
// track.
func (u *upTrack) readerDone() {
	u.mu.Lock()
	u.readers--
	last := u.readers == 0
	u.mu.Unlock()
	if last {
		u.stop()
	}
}

// stop runs when the last reader ended (or the track could not start):
// the track leaves the room (subscribers renegotiate it away) and no
// key-frame request outlives it.
func (u *upTrack) stop() {
	u.owner.room.removeTrack(u)
	u.owner.forgetTrack(u)
	u.mu.Lock()
	u.stopped = true
	for _, t := range u.kfTimer {
		if t != nil {
			t.Stop()
		}
	}
	u.mu.Unlock()
	for i := range u.layers {
		if l := u.layers[i].Load(); l != nil && l.cache != nil {
			l.cache.clear()
		}
	}
	u.srv.ctr.tracks.Add(-1)
}
