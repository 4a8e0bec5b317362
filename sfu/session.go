package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Session is one participant's connection to the SFU: one PeerConnection
// that carries what the participant publishes and everything the SFU
// forwards to it (one connection, not a publish/subscribe pair: one ICE and
// DTLS handshake, one port, and perfect negotiation makes renegotiation in
// both directions safe; see docs/sfu.md).
//
// Concurrency. A Session runs these goroutines, all ended by Close:
//   - negotiateLoop owns SFU-initiated offers (negotiate.go);
//   - writeLoop owns writing forwarded packets to this participant;
//   - one reader per published track (upTrack.run) and one RTCP reader for
//     it, one RTCP reader per forwarded track (downTrack.readRTCP).
//
// Signal runs on the caller's goroutine (signaling's connection reader).
// negMu serializes everything that changes the PeerConnection's
// descriptions or transceivers, so one negotiation is in flight at a time.
type Session struct {
	srv  *Server
	room *room // set by Attach before start, never changed
	id   string
	log  *slog.Logger
	pc   *webrtc.PeerConnection

	sendFn      func(json.RawMessage)
	receiveOnly bool // set by Attach before start: media from it is dropped

	ctx    context.Context // done when Close starts
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of this session
	once   sync.Once

	queue     chan fwd    // forwarded packets waiting for writeLoop
	wstats    writerStats // writeLoop's counters
	connected atomic.Bool // ICE+DTLS up: forwarded packets can reach the client

	kick      chan struct{} // cap 1: wake negotiateLoop to offer
	connEvent chan struct{} // cap 1: the transport came up

	mu     sync.Mutex // guards closed; held while adding to wg
	closed bool

	pubMu sync.Mutex                       // serializes onTrack's publishing; guards pubs
	pubs  map[*webrtc.RTPReceiver]*upTrack // what it publishes, by receiver: simulcast layers find their track

	dl downlink // the downlink estimate and its allocation state (bwe.go, alloc.go)

	vmu     sync.Mutex          // guards the view requests (view.go)
	views   map[string]viewItem // by forwarded track id
	viewing bool                // the client sent a `view`: unlisted tracks start at the lowest layer

	negMu        sync.Mutex // guards the negotiation state below and every transceiver change
	answered     bool       // the client's first offer was answered: the SFU may offer
	offering     bool       // an SFU offer awaits the client's answer
	offerGen     uint64     // counts offers, to match a timeout to its offer
	needOffer    bool       // something changed that only an SFU offer can carry
	remoteSet    bool       // a remote description is set: candidates can be added
	pendingCands []webrtc.ICECandidateInit
	downs        map[*upTrack]*downTrack  // tracks forwarded to this participant
	retiring     []*webrtc.RTPTransceiver // stopped sending in the offer in flight (slots.go)
	free         []*webrtc.RTPTransceiver // negotiated inactive: reusable for a new track

	candMu    sync.Mutex // guards descSent and localCand
	descSent  bool       // a local description went out: local candidates may follow
	localCand []*webrtc.ICECandidateInit

	dmu      sync.Mutex // guards the data-channel state (datachannel.go)
	channels map[string]*outChannel
	dataSFU  bool // the SFU created a data channel on this connection
	opened   int  // channels the participant opened
}

// maxPendingCandidates bounds the remote candidates kept while no remote
// description is set yet. A browser gathers a handful; 64 is generous and
// stops a client from growing the list without end.
const maxPendingCandidates = 64

func newSession(s *Server, peerID string) (*Session, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("sfu: new peer connection for %s: %w", peerID, err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &Session{
		srv:       s,
		id:        peerID,
		pc:        pc,
		ctx:       ctx,
		cancel:    cancel,
		queue:     make(chan fwd, writeQueueLen),
		kick:      make(chan struct{}, 1),
		connEvent: make(chan struct{}, 1),
		downs:     map[*upTrack]*downTrack{},
		channels:  map[string]*outChannel{},
		pubs:      map[*webrtc.RTPReceiver]*upTrack{},
		views:     map[string]viewItem{},
	}
	if !s.cfg.NoBandwidthAdaptation {
		ss.dl.est = s.bwe.take(pc.ID()) // nil if pion built none: no adaptation for this one
	}
	return ss, nil
}

// start installs the PeerConnection's handlers and starts the session's
// loops. Called once, by Attach, after the session joined its room and
// with no lock held (pion's setters take the PeerConnection's locks).
func (ss *Session) start() {
	ss.pc.OnICECandidate(ss.onLocalCandidate)
	ss.pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { ss.onConnectionState() })
	ss.pc.OnTrack(ss.onTrack)
	ss.pc.OnDataChannel(ss.onDataChannel)
	ss.goTracked(ss.writeLoop)
	ss.goTracked(ss.negotiateLoop)
}

// goTracked starts f as one of the session's goroutines, unless the session
// is closing. Close waits for all of them.
func (ss *Session) goTracked(f func()) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		f()
	}()
	return true
}

// send delivers a payload to the participant through signaling. The
// callback must not block (the seam's contract); after Close nothing is
// sent.
func (ss *Session) send(data json.RawMessage) {
	if ss.ctx.Err() != nil {
		return
	}
	ss.sendFn(data)
}

// Signal hands the SFU one payload the client sent to "sfu": a description,
// a candidate or its media state (docs/sfu.md). It returns an error
// wrapping ErrBadSignal, ErrBadDescription, ErrBadCandidate or
// ErrUnexpectedAnswer for input the SFU refuses, and ErrClosed after Close;
// a refused payload changes nothing.
func (ss *Session) Signal(data json.RawMessage) error {
	if ss.ctx.Err() != nil {
		return fmt.Errorf("sfu: signal from %s: %w", ss.id, ErrClosed)
	}
	cs, err := decodeSignal(data)
	if err != nil {
		return err
	}
	switch {
	case cs.Description != nil:
		desc, err := parseDescription(cs.Description)
		if err != nil {
			return err
		}
		return ss.onDescription(desc)
	case cs.Candidate != nil:
		return ss.onRemoteCandidate(cs.Candidate)
	case cs.View != nil:
		items, err := parseView(cs.View)
		if err != nil {
			return err
		}
		ss.setView(items)
		return nil
	default:
		var m mediaState
		if err := json.Unmarshal(cs.Media, &m); err != nil {
			return fmt.Errorf("%w: media: %v", ErrBadSignal, err)
		}
		if err := m.validate(); err != nil {
			return err
		}
		ss.room.setMedia(ss, m)
		return nil
	}
}

// State is the PeerConnection's state ("new", "connecting", "connected",
// "disconnected", "failed", "closed"): the pre-flight result signaling
// shows to admins.
func (ss *Session) State() string {
	return ss.pc.ConnectionState().String()
}

// Close ends the participant's SFU path: its tracks vanish for the others
// (who renegotiate them away), its PeerConnection closes and every goroutine
// of the session has ended when Close returns. Safe to call more than once
// and concurrently with Signal.
func (ss *Session) Close() {
	ss.once.Do(func() {
		ss.mu.Lock()
		ss.closed = true
		ss.mu.Unlock()
		ss.cancel()
		ss.srv.leave(ss)
		if err := ss.pc.Close(); err != nil {
			ss.log.Debug("close peer connection", "err", err)
		}
		ss.wg.Wait()
		ss.srv.retire(ss)
		ss.log.Info("sfu session closed")
	})
}

// onConnectionState follows the transport. Forwarding starts when ICE and
// DTLS are up; the negotiation loop then asks for key frames.
func (ss *Session) onConnectionState() {
	switch ss.pc.ConnectionState() {
	case webrtc.PeerConnectionStateConnected:
		if !ss.connected.Swap(true) {
			select {
			case ss.connEvent <- struct{}{}:
			default:
			}
		}
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		ss.connected.Store(false)
	}
}

// maxPublishedTracks bounds what one participant publishes: a camera and a
// screen share with their audio are four; every track costs every other
// participant an m-line and a forwarding queue entry per packet, so a client
// must not publish without limit.
const maxPublishedTracks = 8

// onTrack starts forwarding a track the participant publishes. pion calls
// it once per simulcast layer (each RID is a TrackRemote on the same
// receiver), on goroutines of its own: the first creates the published
// track and adds it to the room, the others join it. pubMu makes the two
// steps one, so a layer never joins a track that is not in the room yet.
func (ss *Session) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if ss.receiveOnly {
		ss.log.Info("dropping media from a participant who may not publish", "kind", remote.Kind().String())
		ss.goTracked(func() { discardRTP(remote) })
		return
	}
	ss.mu.Lock()
	closed := ss.closed
	ss.mu.Unlock()
	if closed {
		return
	}
	ss.pubMu.Lock()
	u, isNew := ss.pubs[receiver], false
	if u == nil {
		u, isNew = newUpTrack(ss, remote, receiver), true
		if err := ss.room.addTrack(u); err != nil {
			ss.pubMu.Unlock()
			ss.log.Info("not forwarding track", "kind", u.kind.String(), "err", err)
			ss.goTracked(func() { discardRTP(remote) })
			return
		}
		ss.pubs[receiver] = u
		ss.srv.ctr.tracks.Add(1)
	}
	idx := u.layerIndex(remote)
	l := newUpLayer(idx, remote.RID(), remote, u.kind == webrtc.RTPCodecTypeVideo)
	added := idx >= 0 && u.addLayer(l)
	ss.pubMu.Unlock()
	if !added {
		ss.log.Info("not forwarding simulcast layer", "rid", remote.RID(), "track", u.trackID)
		ss.goTracked(func() { discardRTP(remote) })
		if isNew {
			u.stop()
		}
		return
	}
	if !ss.goTracked(func() { u.run(l) }) {
		u.readerDone()
		return
	}
	ss.goTracked(func() { u.readRTCP(l) })
	ss.log.Debug("publishing", "kind", u.kind.String(), "track", u.trackID, "stream", u.streamID, "rid", l.rid)
}

// forgetTrack drops u from the session's published tracks (it ended).
func (ss *Session) forgetTrack(u *upTrack) {
	ss.pubMu.Lock()
	defer ss.pubMu.Unlock()
	if ss.pubs[u.receiver] == u {
		delete(ss.pubs, u.receiver)
	}
}

// discardRTP reads a track until it ends and drops what it reads, so that
// pion's buffers never fill with media that will not be forwarded.
func discardRTP(remote *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := remote.Read(buf); err != nil {
			return
		}
	}
}

// writeLoop writes the packets queued for this participant, in order. It
// is the only goroutine that writes forwarded media to this connection, so
// a slow write delays only this participant.
func (ss *Session) writeLoop() {
	for {
		select {
		case <-ss.ctx.Done():
			for {
				select {
				case f := <-ss.queue:
					if f.p != nil {
						f.p.release()
					}
				default:
					return
				}
			}
		case f := <-ss.queue:
			if f.nack {
				f.d.resend(f.seq)
				continue
			}
			f.d.write(f.p)
			f.p.release()
		}
	}
}
