package pionpeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// inboxLen bounds a link's queue of pending work (signals from the remote,
// local ICE candidates, negotiation requests). A newcomer's offer plus a few
// dozen candidates fit; beyond that the poster waits, which back-pressures
// signaling rather than dropping a message that negotiation needs.
const inboxLen = 128

// link is the PeerConnection to one remote participant. Every negotiation
// step runs on the link's own goroutine (run), in the order posted, so the
// perfect-negotiation state below needs no lock and no step interleaves with
// another — the role the browser's single-threaded event loop plays for the
// web client.
type link struct {
	p      *Peer
	remote string
	// polite: protocol.md, "the peer with the lexically smaller id is
	// polite" — it rolls back its own offer when offers collide.
	polite bool
	ctx    context.Context
	cancel context.CancelFunc
	inbox  chan func()
	done   chan struct{}

	// Written only by run, under mu; run reads it without the lock.
	pc *webrtc.PeerConnection

	// Owned by run.
	published   bool                      // tracks added and media sent
	ignoreOffer bool                      // perfect negotiation: an impolite side ignoring a colliding offer
	pending     []webrtc.ICECandidateInit // candidates that arrived before a remote description

	mu sync.Mutex // guards writes of pc, and reads of it outside run

	// connected: the current PeerConnection is connected (ICE and DTLS
	// up). The switch logic reads it for remotes that publish nothing.
	connected atomic.Bool
}

func newLink(p *Peer, remote string) (*link, error) {
	ctx, cancel := context.WithCancel(p.ctx)
	l := &link{
		p:      p,
		remote: remote,
		polite: p.ID() < remote,
		ctx:    ctx,
		cancel: cancel,
		inbox:  make(chan func(), inboxLen),
		done:   make(chan struct{}),
	}
	pc, err := l.newPC()
	if err != nil {
		cancel()
		return nil, err
	}
	l.pc = pc
	return l, nil
}

// newPC creates a PeerConnection wired to this link. Callbacks carry the pc
// they came from, so that after a replacement (see handleDescription) the
// old connection's late events are dropped.
func (l *link) newPC() (*webrtc.PeerConnection, error) {
	p := l.p
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.ice})
	if err != nil {
		return nil, fmt.Errorf("pionpeer: new PeerConnection to %s: %w", l.remote, err)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		// Through the inbox, so a candidate is never sent before the
		// description that it belongs to.
		l.post(func() {
			if l.pc == pc {
				l.sendCandidate(c)
			}
		})
	})
	pc.OnNegotiationNeeded(func() {
		l.post(func() {
			if l.pc == pc {
				l.negotiate()
			}
		})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.goTracked(func() { p.readTrack(l.ctx, l.remote, PathMesh, pc, tr) })
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "remote", l.remote, "state", s)
		l.mu.Lock()
		if l.pc == pc {
			l.connected.Store(s == webrtc.PeerConnectionStateConnected)
		}
		l.mu.Unlock()
	})
	return pc, nil
}

// run executes posted work until the link is closed.
func (l *link) run() {
	defer close(l.done)
	for {
		select {
		case f := <-l.inbox:
			f()
		case <-l.ctx.Done():
			return
		}
	}
}

// post queues f for run; it gives up silently once the link is closed.
func (l *link) post(f func()) {
	select {
	case l.inbox <- f:
	case <-l.ctx.Done():
	}
}

// close stops the actor and closes the PeerConnection, waiting for pion's
// goroutines (GracefulClose) so that none outlive the participant.
func (l *link) close() {
	l.cancel()
	<-l.done
	if err := l.pc.GracefulClose(); err != nil {
		l.p.log.Debug("close PeerConnection", "remote", l.remote, "err", err)
	}
}

// state is the current PeerConnection's state.
func (l *link) state() webrtc.PeerConnectionState {
	l.mu.Lock()
	pc := l.pc
	l.mu.Unlock()
	return pc.ConnectionState()
}

// Signal payloads (docs/protocol.md "Client-to-client payloads").
type (
	descriptionPayload struct {
		Description webrtc.SessionDescription `json:"description"`
	}
	candidatePayload struct {
		// nil encodes as null: end of candidates.
		Candidate *webrtc.ICECandidateInit `json:"candidate"`
	}
	mediaPayload struct {
		Media MediaState `json:"media"`
	}
	inboundPayload struct {
		Description *webrtc.SessionDescription `json:"description"`
		Candidate   json.RawMessage            `json:"candidate"`
		Media       *MediaState                `json:"media"`
	}
)

func (l *link) send(payload any) {
	if err := l.p.signal(l.remote, payload); err != nil {
		l.p.log.Debug("send signal", "remote", l.remote, "err", err)
	}
}

// publish tells the remote which stream is the camera, then adds the
// tracks. On a fresh connection adding tracks fires negotiationneeded, and
// negotiate offers; after a remote offer the tracks take over the offer's
// transceivers and the answer carries them.
func (l *link) publish() {
	if l.published {
		return
	}
	l.published = true
	p := l.p
	// protocol.md: {"media"} goes to each peer before the offer that adds
	// a stream.
	l.send(mediaPayload{Media: MediaState{Camera: p.streamID, Mic: p.audio != nil, Cam: p.video != nil}})
	for _, tr := range []*webrtc.TrackLocalStaticRTP{p.video, p.audio} {
		if tr == nil {
			continue
		}
		sender, err := l.pc.AddTrack(tr)
		if err != nil {
			p.log.Error("add track", "remote", l.remote, "kind", tr.Kind(), "err", err)
			continue
		}
		// RTCP must be read for the interceptors (NACK responder,
		// reports) to see it, and for key-frame requests.
		kind := KindAudio
		if tr == p.video {
			kind = KindVideo
		}
		p.goTracked(func() { p.readSenderRTCP(sender, kind) })
	}
}

// negotiate makes an offer when pion says negotiation is needed. The check
// for a stable state is the perfect-negotiation guard: an offer is only
// made from stable, and the answer that returns to stable re-runs pion's
// negotiation-needed check.
func (l *link) negotiate() {
	if l.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	offer, err := l.pc.CreateOffer(nil)
	if err == nil {
		err = l.pc.SetLocalDescription(offer)
	}
	if err != nil {
		l.fail("make offer", err)
		return
	}
	l.send(descriptionPayload{Description: offer})
}

func (l *link) sendCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		l.send(candidatePayload{}) // end of candidates
		return
	}
	init := c.ToJSON()
	l.send(candidatePayload{Candidate: &init})
}

func (l *link) handleSignal(data json.RawMessage) {
	var in inboundPayload
	if err := json.Unmarshal(data, &in); err != nil {
		l.p.log.Warn("undecodable signal", "remote", l.remote, "err", err)
		return
	}
	switch {
	case in.Description != nil:
		if err := l.handleDescription(*in.Description); err != nil {
			l.fail("apply "+in.Description.Type.String(), err)
		}
	case len(in.Candidate) > 0:
		l.handleCandidate(in.Candidate)
	case in.Media != nil:
		l.p.setRemoteMedia(l.remote, *in.Media)
	default:
		l.p.log.Debug("ignoring unknown signal", "remote", l.remote, "data", string(data))
	}
}

// handleDescription is the receiving half of perfect negotiation (W3C
// WebRTC §10.7 "Perfect negotiation example"), run to completion without
// interleaving, so "making an offer" is exactly "not stable".
func (l *link) handleDescription(desc webrtc.SessionDescription) error {
	if desc.Type == webrtc.SDPTypeRollback {
		// pion cannot roll back a remote offer (its signaling state
		// machine has no have-remote-offer → stable rollback), and this
		// link answers every offer at once, so there is nothing to undo.
		l.p.log.Debug("ignoring remote rollback", "remote", l.remote, "state", l.pc.SignalingState())
		return nil
	}
	if desc.Type == webrtc.SDPTypeOffer && l.pc.RemoteDescription() != nil &&
		dtlsFingerprint(desc.SDP) != dtlsFingerprint(l.pc.RemoteDescription().SDP) {
		// A new DTLS certificate: the remote started over with a fresh
		// PeerConnection (after a switch back from the SFU this link
		// outlived its side). pion cannot take a new certificate on a
		// connection, so start over here too.
		l.p.log.Debug("remote offers from a new connection; replacing this one", "remote", l.remote)
		if err := l.replacePC(); err != nil {
			return err
		}
	}
	collision := desc.Type == webrtc.SDPTypeOffer && l.pc.SignalingState() != webrtc.SignalingStateStable
	l.ignoreOffer = !l.polite && collision
	if l.ignoreOffer {
		l.p.log.Debug("ignoring colliding offer (impolite)", "remote", l.remote)
		return nil
	}
	if collision {
		// Polite: give up our offer and take theirs. Browsers roll back
		// with setLocalDescription({type: "rollback"}); pion v4.2 refuses
		// have-local-offer → rollback, so start over with a fresh
		// PeerConnection, which is what a rollback of a first offer
		// amounts to. Candidates already sent for the old one point at
		// closed sockets and simply fail their checks.
		l.p.log.Debug("offers collided; replacing the connection to take the remote offer (polite)", "remote", l.remote)
		if err := l.replacePC(); err != nil {
			return err
		}
	}
	if err := l.pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("set remote description: %w", err)
	}
	for _, c := range l.pending {
		if err := l.pc.AddICECandidate(c); err != nil {
			l.p.log.Debug("add queued candidate", "remote", l.remote, "err", err)
		}
	}
	l.pending = nil
	if desc.Type != webrtc.SDPTypeOffer {
		return nil
	}
	l.publish()
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := l.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	l.send(descriptionPayload{Description: answer})
	return nil
}

// replacePC swaps in a fresh PeerConnection and closes the old one in the
// background (a graceful close waits for pion goroutines that may be
// waiting to post to this very actor).
func (l *link) replacePC() error {
	pc, err := l.newPC()
	if err != nil {
		return err
	}
	old := l.pc
	l.mu.Lock()
	l.pc = pc
	l.connected.Store(false)
	l.mu.Unlock()
	l.published = false
	l.pending = nil
	if !l.p.goTracked(func() { _ = old.GracefulClose() }) {
		// Closing: posts no longer block, so closing here is safe.
		_ = old.GracefulClose()
	}
	return nil
}

// sdpOrigin returns an SDP's o= line (RFC 8866 §5.2): the session id and
// version, which change with every new offer; "" if none.
func sdpOrigin(sdp string) string {
	for line := range strings.Lines(sdp) {
		if strings.HasPrefix(line, "o=") {
			return strings.TrimRight(line, "\r\n")
		}
	}
	return ""
}

// dtlsFingerprint returns the first a=fingerprint value of an SDP (RFC 8122
// §5), which identifies the DTLS certificate of the PeerConnection that
// made it; "" if none.
func dtlsFingerprint(sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=fingerprint:"); ok {
			return v
		}
	}
	return ""
}

func (l *link) handleCandidate(raw json.RawMessage) {
	if string(raw) == "null" {
		return // end of candidates: pion needs no notice
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &c); err != nil {
		l.p.log.Warn("undecodable candidate", "remote", l.remote, "err", err)
		return
	}
	if c.Candidate == "" {
		return // the browser's other way of saying end of candidates
	}
	if l.pc.RemoteDescription() == nil {
		if l.ignoreOffer {
			// They belong to the offer this side ignored; the
			// polite remote answers from a fresh connection whose
			// own candidates follow its answer.
			return
		}
		// Relayed in order, candidates follow their description; keep
		// them anyway for peers that trickle before offering.
		l.pending = append(l.pending, c)
		return
	}
	if err := l.pc.AddICECandidate(c); err != nil && !l.ignoreOffer {
		l.p.log.Warn("add candidate", "remote", l.remote, "err", err)
	}
}

func (l *link) fail(what string, err error) {
	if errors.Is(l.ctx.Err(), context.Canceled) {
		return // closing: pion errors are expected
	}
	l.p.log.Error("negotiation failed", "remote", l.remote, "step", what, "err", err)
}
