package sfu

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// Negotiation follows "perfect negotiation" (W3C WebRTC §10.7) with fixed
// roles: the client makes the first offer (its own tracks); after that the
// SFU offers whenever the tracks it forwards change. The SFU is the
// impolite side: a client offer that collides with an SFU offer is ignored,
// and the browser (polite) rolls its own back, answers, and offers again.
//
// Changes are coalesced: the room kicks negotiateLoop (a channel of one),
// and each offer is built from the room's state at that moment, so a burst
// of joins and leaves costs one offer, and a change that arrives while an
// offer is in flight is carried by the next one.

// answerTimeout is how long the SFU waits for the answer to its offer. A
// client that lost it (or never answers) would otherwise block every later
// change; after the timeout the offer is sent again. 10 s is
// far above a real round trip (≪ 1 s) and below the 15 s in which a dead
// client is noticed by signaling's heartbeat.
const answerTimeout = 10 * time.Second

// renegotiate asks the negotiation loop to bring the forwarded tracks up to
// date. Never blocks; many calls before the loop runs count as one.
func (ss *Session) renegotiate() {
	select {
	case ss.kick <- struct{}{}:
	default:
	}
}

// negotiateLoop owns the SFU's side of renegotiation (one goroutine per
// session): offers, the answer timeout, and the key-frame requests when the
// transport comes up.
func (ss *Session) negotiateLoop() {
	timer := time.NewTimer(answerTimeout)
	timer.Stop()
	defer timer.Stop()
	var armedGen uint64
	for {
		select {
		case <-ss.ctx.Done():
			return
		case <-ss.kick:
			if gen, ok := ss.offer(); ok {
				armedGen = gen
				timer.Reset(answerTimeout)
			}
		case <-timer.C:
			if ss.answerTimedOut(armedGen) {
				timer.Reset(answerTimeout)
			}
		case <-ss.connEvent:
			ss.requestKeyframes()
		}
	}
}

// offer makes an SFU offer when one is possible and needed. It reports the
// offer's generation and whether one was sent.
func (ss *Session) offer() (uint64, bool) {
	ss.negMu.Lock()
	defer ss.negMu.Unlock()
	if ss.ctx.Err() != nil || !ss.answered || ss.offering {
		// Not yet (the client has not offered) or not now (an offer is
		// in flight): the answer kicks the loop again.
		return 0, false
	}
	if ss.pc.SignalingState() != webrtc.SignalingStateStable {
		return 0, false
	}
	if ss.reconcile() {
		ss.needOffer = true
	}
	if ss.dataNeedsOffer() {
		ss.needOffer = true
	}
	if !ss.needOffer {
		return 0, false
	}
	offer, err := ss.pc.CreateOffer(nil)
	if err == nil {
		err = ss.pc.SetLocalDescription(offer)
	}
	if err != nil {
		ss.log.Warn("sfu offer failed", "err", err)
		return 0, false
	}
	ss.needOffer = false
	ss.offering = true
	ss.offerGen++
	ss.send(mustJSON(tracksMsg{Tracks: ss.trackInfos()}))
	ss.sendDescription(ss.pc.LocalDescription())
	return ss.offerGen, true
}

// answerTimedOut sends the unanswered offer again: the client may have
// missed it (a message lost on a reconnecting WebSocket), and a client that
// got it and is mid-glare rolls its own offer back and answers. Pion
// v4.2.20 cannot roll back a local offer, so re-sending, not re-offering, is
// how the SFU gets unstuck.
func (ss *Session) answerTimedOut(gen uint64) bool {
	ss.negMu.Lock()
	defer ss.negMu.Unlock()
	if !ss.offering || ss.offerGen != gen || ss.ctx.Err() != nil {
		return false
	}
	ss.log.Info("no answer to sfu offer; sending it again", "timeout", answerTimeout)
	ss.send(mustJSON(tracksMsg{Tracks: ss.trackInfos()}))
	ss.sendDescription(ss.pc.PendingLocalDescription())
	return true
}

// reconcile makes the PeerConnection's senders match the room: one
// downTrack per track of every other participant. It reports whether
// anything changed. negMu must be held, and the signalling state stable.
func (ss *Session) reconcile() bool {
	want := ss.room.tracksFor(ss)
	wanted := make(map[*upTrack]bool, len(want))
	for _, u := range want {
		wanted[u] = true
	}
	changed := false
	for u, d := range ss.downs {
		if wanted[u] {
			continue
		}
		delete(ss.downs, u)
		changed = true
		ss.retire(d.sender, u.trackID)
	}
	for _, u := range want {
		if _, ok := ss.downs[u]; ok {
			continue
		}
		d := newDownTrack(u, ss)
		tr, err := ss.sendOn(d)
		if err != nil {
			ss.log.Warn("add forwarded track", "track", u.trackID, "err", err)
			continue
		}
		d.sender = tr.Sender()
		ss.downs[u] = d
		changed = true
		sender := d.sender
		ss.goTracked(func() { d.readRTCP(sender) })
	}
	return changed
}

// trackInfos lists the forwarded tracks in publication order. negMu held.
func (ss *Session) trackInfos() []trackInfo {
	ups := make([]*upTrack, 0, len(ss.downs))
	for u := range ss.downs {
		ups = append(ups, u)
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].order < ups[j].order })
	out := make([]trackInfo, 0, len(ups))
	for _, u := range ups {
		out = append(out, trackInfo{Peer: u.owner.id, Stream: u.streamID, Track: u.trackID, Kind: u.kind.String()})
	}
	return out
}

// onDescription applies a client's offer or answer.
func (ss *Session) onDescription(desc webrtc.SessionDescription) error {
	ss.negMu.Lock()
	defer ss.negMu.Unlock()
	if ss.ctx.Err() != nil {
		return fmt.Errorf("sfu: description from %s: %w", ss.id, ErrClosed)
	}
	switch desc.Type {
	case webrtc.SDPTypeOffer:
		if ss.offering {
			// Glare: the SFU is impolite. The browser rolls back,
			// answers our offer, and offers again.
			ss.log.Debug("ignoring client offer during sfu offer")
			return nil
		}
		// Pion v4.2.20 changes the signalling state before it finds most
		// faults in an offer (no ICE credentials, no fingerprint, no mid)
		// and cannot roll back: one bad offer would wedge the connection
		// for good. So an offer is tried on a scratch connection first.
		if err := ss.srv.checkOffer(desc); err != nil {
			return fmt.Errorf("%w: offer from %s: %v", ErrBadDescription, ss.id, err)
		}
		if err := ss.pc.SetRemoteDescription(desc); err != nil {
			if ss.pc.SignalingState() != webrtc.SignalingStateStable {
				ss.log.Warn("offer refused after it was half applied; the session must be recreated", "err", err)
			}
			return fmt.Errorf("%w: offer from %s: %v", ErrBadDescription, ss.id, err)
		}
		answer, err := ss.pc.CreateAnswer(nil)
		if err == nil {
			err = ss.pc.SetLocalDescription(answer)
		}
		if err != nil {
			ss.log.Warn("cannot answer; the session must be recreated", "err", err)
			return fmt.Errorf("%w: answering %s: %v", ErrBadDescription, ss.id, err)
		}
		ss.markRemoteSet()
		ss.sendDescription(ss.pc.LocalDescription())
		ss.answered = true
		ss.renegotiate() // forward the room's tracks, or changes that waited
		return nil

	case webrtc.SDPTypeAnswer:
		if !ss.offering {
			return fmt.Errorf("sfu: answer from %s: %w", ss.id, ErrUnexpectedAnswer)
		}
		if err := ss.pc.SetRemoteDescription(desc); err != nil {
			if ss.pc.SignalingState() == webrtc.SignalingStateStable {
				// Half applied (pion changes state first): the offer
				// is spent. Offer again so the client can answer
				// properly.
				ss.offering = false
				ss.needOffer = true
				ss.renegotiate()
			}
			// Otherwise the offer stays pending: a correct answer may
			// follow, and the answer timeout sends the offer again.
			return fmt.Errorf("%w: answer from %s: %v", ErrBadDescription, ss.id, err)
		}
		ss.offering = false
		ss.slotsNegotiated()
		ss.markRemoteSet()
		ss.renegotiate() // changes that arrived during this negotiation
		return nil

	case webrtc.SDPTypeRollback:
		// The polite client rolled back its own offer; that is local to
		// the client and needs nothing here.
		return nil

	default:
		return fmt.Errorf("%w: description type %q is not offer or answer", ErrBadSignal, desc.Type)
	}
}

// markRemoteSet adds the candidates that arrived before the first remote
// description. negMu held.
func (ss *Session) markRemoteSet() {
	if ss.remoteSet {
		return
	}
	ss.remoteSet = true
	for _, c := range ss.pendingCands {
		if err := ss.pc.AddICECandidate(c); err != nil {
			ss.log.Debug("queued candidate refused", "err", err)
		}
	}
	ss.pendingCands = nil
}

// onRemoteCandidate adds a trickled candidate; null or an empty candidate
// is the end of candidates, which pion needs no notice of.
func (ss *Session) onRemoteCandidate(raw json.RawMessage) error {
	if strings.TrimSpace(string(raw)) == "null" {
		return nil
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("%w: candidate: %v", ErrBadSignal, err)
	}
	if c.Candidate == "" {
		return nil
	}
	ss.negMu.Lock()
	defer ss.negMu.Unlock()
	if !ss.remoteSet {
		if len(ss.pendingCands) >= maxPendingCandidates {
			return fmt.Errorf("%w: more than %d candidates before an offer", ErrBadCandidate, maxPendingCandidates)
		}
		ss.pendingCands = append(ss.pendingCands, c)
		return nil
	}
	if err := ss.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

// sendDescription sends the SFU's offer or answer, then any local candidate
// gathered before it: a browser refuses a candidate that arrives before the
// description it belongs to.
func (ss *Session) sendDescription(d *webrtc.SessionDescription) {
	if d == nil {
		return
	}
	ss.candMu.Lock()
	defer ss.candMu.Unlock()
	// The copy sent asks for Opus DTX (audio.go); pion refuses to set a
	// local description that differs from the one it made, and usedtx
	// changes nothing on the SFU's side.
	ss.send(mustJSON(descriptionMsg{Description: sdpJSON{Type: d.Type.String(), SDP: withOpusDTX(d.SDP)}}))
	ss.descSent = true
	for _, c := range ss.localCand {
		ss.send(mustJSON(candidateMsg{Candidate: c}))
	}
	ss.localCand = nil
}

// onLocalCandidate trickles the SFU's candidates (nil: gathering is done,
// sent as a null candidate).
func (ss *Session) onLocalCandidate(c *webrtc.ICECandidate) {
	var init *webrtc.ICECandidateInit
	if c != nil {
		ci := c.ToJSON()
		init = &ci
	}
	ss.candMu.Lock()
	defer ss.candMu.Unlock()
	if !ss.descSent {
		ss.localCand = append(ss.localCand, init)
		return
	}
	ss.send(mustJSON(candidateMsg{Candidate: init}))
}

// requestKeyframes asks every publisher this participant watches for a key
// frame: its video can start only at one, and none could reach it before
// its transport was up.
func (ss *Session) requestKeyframes() {
	ss.negMu.Lock()
	downs := make([]*downTrack, 0, len(ss.downs))
	for _, d := range ss.downs {
		downs = append(downs, d)
	}
	ss.negMu.Unlock()
	for _, d := range downs {
		d.up.requestKeyframe(int(d.target.Load()))
	}
}

// checkOffer applies a client's offer to a scratch PeerConnection and
// reports whether pion accepts it, without touching any session.
func (s *Server) checkOffer(desc webrtc.SessionDescription) error {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return fmt.Errorf("sfu: scratch peer connection: %w", err)
	}
	s.bwe.take(pc.ID()) // its estimator (if any) belongs to nobody; Close ends it
	defer func() { _ = pc.Close() }()
	return pc.SetRemoteDescription(desc)
}
