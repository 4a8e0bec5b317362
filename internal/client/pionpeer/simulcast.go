package pionpeer

import (
	"fmt"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Simulcast toward the SFU, as Parley's browser client sends its camera in
// an SFU room (docs/sfu.md "Simulcast and layer selection"): three VP8
// encodings with RIDs q, h and f, listed lowest first, at a quarter, half
// and the full 1280×720 picture and a tenth, a third and all of the
// configured bitrate. Every packet carries the MID and RID header
// extensions, which is how the SFU tells the encodings apart. The mesh
// links still get one stream: the full layer. The SFU's `layers` payload
// (dynacast) turns encodings off and on.

// simulcastLayers describes the three encodings, lowest first.
var simulcastLayers = [3]struct {
	rid           string
	width, height int
	bitrateDiv    int
}{
	{"q", 320, 180, 10},
	{"h", 640, 360, 3},
	{"f", 1280, 720, 1},
}

// simulcastIDs are what the extensions need, known once the SFU answered.
type simulcastIDs struct {
	midID, ridID uint8
	mid          string
}

// simulcast is a participant's simulcast state toward the SFU.
//
// Ownership: tracks and srcs are set by Join and never change; ids is
// stored once by the SFU link's actor after the answer; active is written
// by the actor (dynacast) and read by the sources.
type simulcast struct {
	tracks [3]*webrtc.TrackLocalStaticRTP
	srcs   [3]*videoSource // srcs[2] is the participant's videoSource (it also feeds the mesh)
	active [3]atomic.Bool  // the SFU wants the layer (dynacast); all true at first
	ids    atomic.Pointer[simulcastIDs]
}

// newSimulcast makes the layer tracks for stream streamID.
func newSimulcast(streamID string) (*simulcast, error) {
	s := &simulcast{}
	for i, l := range simulcastLayers {
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate},
			"video", streamID, webrtc.WithRTPStreamID(l.rid))
		if err != nil {
			return nil, fmt.Errorf("pionpeer: simulcast track %s: %w", l.rid, err)
		}
		s.tracks[i] = t
		s.active[i].Store(true)
	}
	return s, nil
}

// layerSink is the SFU sink of layer i: gated by publishing and dynacast,
// stamped with the MID and RID extensions.
func (s *simulcast) layerSink(i int, publishing *atomic.Bool) *sink {
	return &sink{
		track: s.tracks[i],
		open:  publishing,
		also:  &s.active[i],
		ext:   func(h *rtp.Header) bool { return s.stamp(h, i) },
	}
}

// stamp sets the MID and RID extensions on a header of layer i; false
// before the SFU answered (the SFU could not place the packet).
func (s *simulcast) stamp(h *rtp.Header, i int) bool {
	ids := s.ids.Load()
	if ids == nil {
		return false
	}
	_ = h.SetExtension(ids.midID, []byte(ids.mid))
	_ = h.SetExtension(ids.ridID, []byte(simulcastLayers[i].rid))
	return true
}

// addTo puts the layers on the SFU connection (one sender, three
// encodings) and starts reading each layer's RTCP.
func (s *simulcast) addTo(p *Peer, pc *webrtc.PeerConnection) (*webrtc.RTPSender, error) {
	sender, err := pc.AddTrack(s.tracks[0])
	if err != nil {
		return nil, fmt.Errorf("pionpeer: add simulcast track: %w", err)
	}
	for _, t := range s.tracks[1:] {
		if err := sender.AddEncoding(t); err != nil {
			return nil, fmt.Errorf("pionpeer: add simulcast encoding %s: %w", t.RID(), err)
		}
	}
	for i := range simulcastLayers {
		p.goTracked(func() { s.readRTCP(p, sender, i) })
	}
	return sender, nil
}

// negotiated records the extension ids and MID once the SFU answered.
func (s *simulcast) negotiated(pc *webrtc.PeerConnection, sender *webrtc.RTPSender) {
	ids := &simulcastIDs{}
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			ids.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ids.ridID = uint8(e.ID)
		}
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			ids.mid = tr.Mid()
		}
	}
	if ids.midID != 0 && ids.ridID != 0 && ids.mid != "" {
		s.ids.Store(ids)
	}
}

// readRTCP reads layer i's RTCP from the SFU: a PLI or FIR makes that
// layer's next frame a key frame.
func (s *simulcast) readRTCP(p *Peer, sender *webrtc.RTPSender, i int) {
	for {
		pkts, _, err := sender.ReadSimulcastRTCP(simulcastLayers[i].rid)
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.plis.Add(1)
				s.srcs[i].requestKeyFrame()
			}
		}
	}
}

// setActive follows the SFU's `layers` payload: the RIDs listed are
// encoded, the others not.
func (s *simulcast) setActive(rids []string) {
	for i, l := range simulcastLayers {
		on := false
		for _, r := range rids {
			on = on || r == l.rid
		}
		s.active[i].Store(on)
	}
}

// ActiveLayers says which simulcast layers the participant sends now (the
// SFU's dynacast); nil without Config.Simulcast.
func (p *Peer) ActiveLayers() []string {
	if p.sim == nil {
		return nil
	}
	var out []string
	for i, l := range simulcastLayers {
		if p.sim.active[i].Load() {
			out = append(out, l.rid)
		}
	}
	return out
}

// ViewItem is one entry of a `view` payload (docs/sfu.md): how this
// participant shows one forwarded video track.
type ViewItem struct {
	Track    string `json:"track"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Visible  bool   `json:"visible"`
	Priority int    `json:"priority"`
}

type viewPayload struct {
	View []ViewItem `json:"view"`
}

// SetView tells the SFU how this participant shows each forwarded video
// (the full list), as the browser's viewport.js does. It fails before the
// SFU connection exists.
func (p *Peer) SetView(items []ViewItem) error {
	if items == nil {
		items = []ViewItem{}
	}
	return p.signal(sfuPeerID, viewPayload{View: items})
}

// ForwardedVideo maps the ids of the video tracks the SFU forwards to this
// participant to their publishers, from the latest `tracks` payload.
func (p *Peer) ForwardedVideo() map[string]string {
	p.mu.Lock()
	s := p.sfu
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.videoTracks))
	for id, peer := range s.videoTracks {
		out[id] = peer
	}
	return out
}
