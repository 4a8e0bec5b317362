package pionpeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// sfuLink is the one PeerConnection to the SFU (docs/sfu.md): it publishes
// this participant's tracks and receives every track the SFU forwards. Like
// a mesh link, every negotiation step runs on its own goroutine (run), in
// the order posted.
//
// Negotiation. docs/sfu.md gives the SFU fixed roles: the client offers
// first, after that the SFU offers whenever the forwarded tracks change,
// and the SFU is impolite — a client offer that collides with an SFU offer
// is ignored, and the client must roll its own back. pion v4.2.20 cannot
// roll back a local offer, and unlike a mesh link this connection cannot be
// replaced by a fresh one (the SFU session is bound to the first one's ICE
// and DTLS). So this side makes exactly one offer, the first, which the SFU
// answers before it ever offers: collisions cannot happen. Everything later
// is done without renegotiating: the SFU's offers are answered, and
// publishing stops and resumes by gating the packets written to the SFU's
// tracks (Peer.sfuPublish) rather than by removing and re-adding them.
type sfuLink struct {
	p      *Peer
	ctx    context.Context
	cancel context.CancelFunc
	inbox  chan func()
	done   chan struct{}
	pc     *webrtc.PeerConnection // fixed for the link's life

	// connected: ICE and DTLS are up. The switch logic reads it for
	// remotes that publish nothing.
	connected atomic.Bool

	// Owned by run.
	pending []webrtc.ICECandidateInit // candidates before the SFU's answer

	mu          sync.Mutex        // guards tracks and videoTracks
	tracks      map[string]string // stream id + "/" + track id → publisher, from the latest `tracks`
	videoTracks map[string]string // forwarded video track id → publisher, from the latest `tracks`

	simSender *webrtc.RTPSender // the simulcast sender, nil without; owned by run
}

func newSFULink(p *Peer) (*sfuLink, error) {
	ctx, cancel := context.WithCancel(p.ctx)
	s := &sfuLink{
		p:      p,
		ctx:    ctx,
		cancel: cancel,
		inbox:  make(chan func(), inboxLen),
		done:   make(chan struct{}),
		tracks: map[string]string{},
	}
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.ice})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("pionpeer: new PeerConnection to the SFU: %w", err)
	}
	s.pc = pc
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		// Through the inbox, so no candidate precedes the offer.
		s.post(func() { s.sendCandidate(c) })
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		from := s.publisher(tr)
		if from == "" {
			// Packets of a track the SFU just removed can reach pion
			// after the offer that removed it, which then reports
			// them as an undeclared track without ids; anything
			// else is the SFU breaking its contract.
			level := slog.LevelWarn
			if tr.StreamID() == "" && tr.ID() == "" {
				level = slog.LevelDebug
			}
			p.log.Log(s.ctx, level, "SFU forwarded a track no `tracks` payload announced",
				"stream", tr.StreamID(), "track", tr.ID(), "ssrc", tr.SSRC())
			return
		}
		p.log.Debug("receiving over the SFU", "remote", from, "kind", tr.Kind(), "ssrc", tr.SSRC())
		p.goTracked(func() { p.readTrack(s.ctx, from, PathSFU, pc, tr) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("SFU connection state", "state", st)
		s.connected.Store(st == webrtc.PeerConnectionStateConnected)
	})
	return s, nil
}

// run executes posted work until the link is closed.
func (s *sfuLink) run() {
	defer close(s.done)
	for {
		select {
		case f := <-s.inbox:
			f()
		case <-s.ctx.Done():
			return
		}
	}
}

// post queues f for run; it gives up silently once the link is closed.
func (s *sfuLink) post(f func()) {
	select {
	case s.inbox <- f:
	case <-s.ctx.Done():
	}
}

// close stops the actor and closes the PeerConnection, waiting for pion's
// goroutines.
func (s *sfuLink) close() {
	s.cancel()
	<-s.done
	if err := s.pc.GracefulClose(); err != nil {
		s.p.log.Debug("close SFU PeerConnection", "err", err)
	}
}

func (s *sfuLink) send(payload any) {
	if err := s.p.signal(sfuPeerID, payload); err != nil {
		s.p.log.Debug("send signal to the SFU", "err", err)
	}
}

func (s *sfuLink) sendCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		s.send(candidatePayload{}) // end of candidates
		return
	}
	init := c.ToJSON()
	s.send(candidatePayload{Candidate: &init})
}

// start announces the media state and makes the one client offer, with
// this participant's tracks (the SFU answers them recvonly). Runs on run.
func (s *sfuLink) start() {
	p := s.p
	// docs/sfu.md: {"media"} tells the SFU (and through it everyone)
	// which stream is the camera; it goes before the offer.
	s.send(mediaPayload{Media: MediaState{Camera: p.streamID, Mic: p.sfuAudio != nil, Cam: p.sfuVideo != nil}})
	for _, t := range []struct {
		track *webrtc.TrackLocalStaticRTP
		kind  Kind
	}{{p.sfuVideo, KindVideo}, {p.sfuAudio, KindAudio}} {
		if t.track == nil {
			continue
		}
		if t.kind == KindVideo && p.sim != nil {
			sender, err := p.sim.addTo(p, s.pc)
			if err != nil {
				p.log.Error("add simulcast video to the SFU connection", "err", err)
				continue
			}
			s.simSender = sender
			continue
		}
		sender, err := s.pc.AddTrack(t.track)
		if err != nil {
			p.log.Error("add track to the SFU connection", "kind", t.kind, "err", err)
			continue
		}
		kind := t.kind
		p.goTracked(func() { p.readSenderRTCP(sender, kind) })
	}
	if p.sfuVideo == nil && p.sfuAudio == nil {
		// Receive only: the offer still needs a media section for the
		// SFU to answer (it adds its own sendonly sections later).
		if _, err := s.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			s.fail("add recvonly transceiver", err)
			return
		}
	}
	offer, err := s.pc.CreateOffer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(offer)
	}
	if err != nil {
		s.fail("make the first offer", err)
		return
	}
	s.send(descriptionPayload{Description: offer})
}

// sfuInbound is every SFU→client payload (docs/sfu.md "SFU → client").
type sfuInbound struct {
	Description *webrtc.SessionDescription `json:"description"`
	Candidate   json.RawMessage            `json:"candidate"`
	Tracks      *[]sfuTrack                `json:"tracks"`
	Peer        string                     `json:"peer"`
	Media       *MediaState                `json:"media"`
	Speaker     *string                    `json:"speaker"`
	Layers      *struct {
		Track  string   `json:"track"`
		Active []string `json:"active"`
	} `json:"layers"`
}

// sfuTrack maps one forwarded track to its publisher.
type sfuTrack struct {
	Peer   string `json:"peer"`
	Stream string `json:"stream"`
	Track  string `json:"track"`
	Kind   string `json:"kind"`
}

func (s *sfuLink) handleSignal(data json.RawMessage) {
	var in sfuInbound
	if err := json.Unmarshal(data, &in); err != nil {
		s.p.log.Warn("undecodable signal from the SFU", "err", err)
		return
	}
	switch {
	case in.Description != nil:
		if err := s.handleDescription(*in.Description); err != nil {
			s.fail("apply SFU "+in.Description.Type.String(), err)
		}
	case len(in.Candidate) > 0:
		s.handleCandidate(in.Candidate)
	case in.Tracks != nil:
		// The full list, sent before each offer: replace the map, so
		// the offer's tracks are known before pion reports them.
		m := make(map[string]string, len(*in.Tracks))
		v := map[string]string{}
		for _, t := range *in.Tracks {
			m[t.Stream+"/"+t.Track] = t.Peer
			if t.Kind == "video" {
				v[t.Track] = t.Peer
			}
		}
		s.mu.Lock()
		s.tracks = m
		s.videoTracks = v
		s.mu.Unlock()
	case in.Media != nil && in.Peer != "":
		s.p.setRemoteMedia(in.Peer, *in.Media)
	case in.Speaker != nil:
		s.p.setSpeaker(*in.Speaker)
	case in.Layers != nil:
		if s.p.sim != nil {
			s.p.sim.setActive(in.Layers.Active)
		}
	default:
		s.p.log.Debug("ignoring unknown signal from the SFU", "data", string(data))
	}
}

// publisher names the participant whose track tr is, from the `tracks`
// payload that preceded the offer carrying it.
func (s *sfuLink) publisher(tr *webrtc.TrackRemote) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracks[tr.StreamID()+"/"+tr.ID()]
}

// handleDescription applies the SFU's answer to the first offer, and
// answers each SFU offer.
func (s *sfuLink) handleDescription(desc webrtc.SessionDescription) error {
	switch desc.Type {
	case webrtc.SDPTypeAnswer:
		if err := s.pc.SetRemoteDescription(desc); err != nil {
			return fmt.Errorf("set remote answer: %w", err)
		}
		if s.simSender != nil {
			s.p.sim.negotiated(s.pc, s.simSender)
		}
		s.addPending()
		return nil
	case webrtc.SDPTypeOffer:
	default:
		return fmt.Errorf("%w: description type %s", errUnexpectedSFUSignal, desc.Type)
	}
	if cur := s.pc.CurrentRemoteDescription(); cur != nil && cur.Type == webrtc.SDPTypeOffer &&
		sdpOrigin(cur.SDP) != "" && sdpOrigin(cur.SDP) == sdpOrigin(desc.SDP) {
		// docs/sfu.md: an offer not answered within 10 s is sent
		// again; this one was answered already (on a loaded machine
		// the answer can cross the re-sent offer). Answering it twice
		// would be refused: the SFU has no offer outstanding any more.
		// The o= line identifies the offer (RFC 8866 §5.2: the
		// session version changes with every new offer); the rest of
		// the SDP is no use for that, as the re-sent copy carries the
		// candidates gathered since the first.
		s.p.log.Debug("ignoring a re-sent SFU offer that was answered")
		return nil
	}
	if st := s.pc.SignalingState(); st != webrtc.SignalingStateStable {
		// Cannot happen while this side offers only once (see
		// sfuLink): the SFU never offers before answering that.
		return fmt.Errorf("%w: SFU offer in state %s", errUnexpectedSFUSignal, st)
	}
	t0 := time.Now()
	if err := s.pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("set remote offer: %w", err)
	}
	t1 := time.Now()
	s.addPending()
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	t2 := time.Now()
	if err := s.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	s.send(descriptionPayload{Description: answer})
	s.p.log.Debug("answered SFU offer", "setRemote", t1.Sub(t0), "createAnswer", t2.Sub(t1), "setLocal", time.Since(t2))
	return nil
}

func (s *sfuLink) addPending() {
	for _, c := range s.pending {
		if err := s.pc.AddICECandidate(c); err != nil {
			s.p.log.Debug("add queued SFU candidate", "err", err)
		}
	}
	s.pending = nil
}

func (s *sfuLink) handleCandidate(raw json.RawMessage) {
	if string(raw) == "null" {
		return
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &c); err != nil {
		s.p.log.Warn("undecodable SFU candidate", "err", err)
		return
	}
	if c.Candidate == "" {
		return
	}
	if s.pc.RemoteDescription() == nil {
		s.pending = append(s.pending, c)
		return
	}
	if err := s.pc.AddICECandidate(c); err != nil {
		s.p.log.Warn("add SFU candidate", "err", err)
	}
}

func (s *sfuLink) fail(what string, err error) {
	if errors.Is(s.ctx.Err(), context.Canceled) {
		return // closing: pion errors are expected
	}
	s.p.log.Error("SFU negotiation failed", "step", what, "err", err)
}
