// Package pionpeer is a synthetic Parley participant made with pion/webrtc:
// it joins a room through the real signaling protocol (internal/client/sigclient)
// and takes part in a mesh the way Parley's browser client does, publishing
// one VP8 and one Opus track with synthetic, self-describing payloads and
// counting what it receives from every other participant.
//
// Integration tests use it to hold calls against the real server without a
// browser, and the load tool (docs/load.md) uses it to measure: every payload ends
// with a Stamp (packet number and send time).
//
// Mesh behaviour follows docs/protocol.md "Client-to-client payloads": one
// PeerConnection per remote participant; the newcomer offers to everyone in
// its welcome; the others create their PeerConnection on the first signal
// from it and answer; descriptions and trickled candidates travel as
// {"description": …} and {"candidate": …}, stream roles as {"media": …};
// glare is resolved by perfect negotiation, the lexically smaller id being
// polite.
//
// SFU behaviour follows docs/sfu.md, and the switch between the two
// docs/protocol.md "Modes and the switch", as the browser client does: the
// participant follows the room's mode (welcome, then `mode` messages). In
// SFU mode it has one PeerConnection to "sfu" that publishes its tracks and
// receives every forwarded track, mapped to publishers by the SFU's
// `tracks` payload. The switch is make-before-break per remote: on `mode:
// sfu` the SFU path opens and each mesh link closes once the SFU delivers
// that remote's media; on `mode: mesh` the participant offers a mesh link
// to every remote whose id sorts after its own, and stops publishing on the
// SFU once every remote's media arrives over the mesh. Received packets are
// counted per (remote, kind) whatever the path (Received), and per path
// too (ReceivedVia).
//
// Signaling that drops mid-call does not end the participant: it
// reconnects with back-off and resumes with the last welcome's token
// (docs/protocol.md "Reconnecting"), keeping every PeerConnection; the
// signals it sends meanwhile wait in a bounded queue and go out after the
// resumed welcome. If the server answers with a fresh welcome instead (the
// grace ran out, or the server restarted), it closes its connections and
// takes part in the room again as a newcomer under its new id. Remotes
// that are away (`peer-away`) keep their connections until `peer-back` or
// `peer-left`. See reconnect.go; Reconnections and Absences record it all.
package pionpeer

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Defaults for Config's zero values. Modest on purpose: a 6-person mesh
// under the race detector is 30 streams on 2 cores.
const (
	defaultVideoBitrate     = 300_000 // the lowest of the load tool's usual bitrates (docs/load.md)
	defaultFrameRate        = 15
	defaultKeyFrameInterval = 3 * time.Second
)

// Config describes one participant.
type Config struct {
	// URL is the signaling endpoint, e.g. ws://127.0.0.1:8080/ws.
	URL string
	// Room and Name are sent in join.
	Room string
	Name string

	// NoVideo and NoAudio leave out the VP8 or Opus track; with both,
	// the participant only receives.
	NoVideo bool
	NoAudio bool
	// VideoBitrate is the synthetic video's average bitrate in bit/s
	// (default 300 kbit/s); FrameRate its frames per second (default 15);
	// KeyFrameInterval the time between key frames (default 3 s).
	VideoBitrate     int
	FrameRate        int
	KeyFrameInterval time.Duration
	// Simulcast sends the video to the SFU as three layers (q, h, f: a
	// quarter, half and all of 1280×720, at a tenth, a third and all of
	// VideoBitrate), as the browser does in an SFU room (simulcast.go);
	// mesh links still get the full layer alone.
	Simulcast bool
	// SimulcastWidth and SimulcastHeight are the top layer's picture
	// size (default 1280×720); the others are a quarter and half of it.
	// A browser decodes the synthetic key frames only up to ≈ 1,000
	// macroblocks (960×540): see media.go frameHead.
	SimulcastWidth, SimulcastHeight int
	// NoTemporal sends each simulcast layer as one temporal layer; by
	// default each is L1T3, as Chromium sends it (media.go temporal).
	NoTemporal bool
	// AudioPacketTime is the duration of one Opus packet: 2.5, 5, 10,
	// 20 (the default: 50 packets per second, as browsers send), 40 or
	// 60 ms. Tests of many participants under the race detector use
	// 60 ms to send a third of the packets.
	AudioPacketTime time.Duration

	// DownlinkBitrate, when positive, caps what this participant can
	// receive, in bit/s: a token bucket under its ICE socket queues up to
	// 50 ms and drops the rest, so senders see the loss and delay in
	// their transport-cc feedback (shaper.go says how, and its limits).
	DownlinkBitrate int

	// SFUPreflight opens the connection to the SFU while the room is
	// still a mesh, without publishing on it, as the browser client does
	// (docs/protocol.md "signal": the pre-flight): the admin sees whether
	// this participant can reach the SFU, and a switch to SFU only has to
	// start sending. Off by default: it costs the server a PeerConnection
	// per participant that may never be used.
	SFUPreflight bool

	// AllowNonLoopback lifts the default restriction of ICE to IPv4 UDP
	// on loopback and uses the welcome's ICE servers. Leave it false in
	// tests: with it false no media can leave the machine.
	AllowNonLoopback bool

	// NoReconnect makes the participant end when its signaling drops,
	// instead of reconnecting and resuming (see the package doc).
	NoReconnect bool
	// ReconnectDelay is how long to wait after signaling drops before
	// the first attempt to reconnect (default 0: at once, then with
	// back-off). Tests use it to keep a participant away while the room
	// changes.
	ReconnectDelay time.Duration

	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// SignalOptions are passed to sigclient.Dial, also when
	// reconnecting.
	SignalOptions []sigclient.Option

	// OnPacket, when set, sees every received RTP packet on the track's
	// reader goroutine (use ParseStamp on pkt.Payload to measure). It
	// must be quick and must not keep pkt, which is reused.
	OnPacket func(from string, kind Kind, pkt *rtp.Packet, received time.Time)

	// offerOnPeerJoined makes an existing participant offer to a newcomer
	// too, so both sides offer at once: tests use it to force glare.
	offerOnPeerJoined bool
}

func (c Config) withDefaults() Config {
	if c.VideoBitrate <= 0 {
		c.VideoBitrate = defaultVideoBitrate
	}
	if c.FrameRate <= 0 {
		c.FrameRate = defaultFrameRate
	}
	if c.KeyFrameInterval <= 0 {
		c.KeyFrameInterval = defaultKeyFrameInterval
	}
	if c.SimulcastWidth <= 0 || c.SimulcastHeight <= 0 {
		top := simulcastLayers[len(simulcastLayers)-1]
		c.SimulcastWidth, c.SimulcastHeight = top.width, top.height
	}
	if c.AudioPacketTime <= 0 {
		c.AudioPacketTime = defaultAudioPacketTime
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// MediaState is the {"media": …} signal payload: which MediaStream is the
// camera and which the screen share, and whether microphone and camera are
// on.
type MediaState struct {
	Camera string  `json:"camera"`
	Screen *string `json:"screen"`
	Mic    bool    `json:"mic"`
	Cam    bool    `json:"cam"`
}

// Departure records a peer-left event.
type Departure struct {
	Peer   sigclient.Peer
	Reason string
	At     time.Time
}

// Absence records a remote participant's peer-away and, once it resumed,
// its peer-back.
type Absence struct {
	Peer   sigclient.Peer
	Reason string    // peer-away's reason: timeout or closed
	Away   time.Time // when peer-away arrived
	Back   time.Time // when peer-back arrived; zero while away (or if it left)
}

// RemoteInfo describes one remote participant and how its media reaches
// this one.
type RemoteInfo struct {
	ID   string
	Name string
	// Path is where this participant takes the remote's media from now
	// (its "tile source"): it moves to the new path of a switch once that
	// path delivers the remote's media. PathNone before anything arrived.
	Path Path
	// Mesh says a mesh connection to the remote is open; during a switch
	// it coexists with the SFU path.
	Mesh   bool
	Polite bool // this side yields in mesh glare
	// State is the state of the connection Path uses: the mesh link or
	// the SFU connection. With PathNone, the mesh link's if there is one,
	// else the SFU connection's, else new.
	State webrtc.PeerConnectionState
	Media MediaState // the remote's last {"media": …}, direct or relayed by the SFU; zero before one
	// Away says the remote's signaling dropped (peer-away) and it has not
	// resumed yet; its connections are kept.
	Away bool
}

// SFUInfo describes this participant's connection to the SFU.
type SFUInfo struct {
	// Open says the connection exists: it is made when the room first
	// uses the SFU and kept until the participant leaves.
	Open  bool
	State webrtc.PeerConnectionState
	// Publishing says this participant's media is being sent to the SFU;
	// it stops once the room is back in mesh and every remote's media
	// arrives over the mesh.
	Publishing bool
}

// member is one remote participant of the room, from welcome or
// peer-joined until peer-left. Owned by the event loop; written under
// Peer.mu so that Remotes can read it.
type member struct {
	name  string
	path  Path
	media MediaState
	known bool // media was received
	away  bool // between peer-away and peer-back
	// warned: the stuck-switch warning was logged for the current mode.
	warned bool
	// offeredAt: when this side last offered a mesh link to the remote
	// after a switch back to mesh; zero if it did not (see meshRetry).
	offeredAt time.Time
}

// Peer is one synthetic participant. Its methods are safe for concurrent use.
type Peer struct {
	cfg      Config
	log      *slog.Logger
	api      *webrtc.API
	ice      []webrtc.ICEServer
	streamID string
	video    *webrtc.TrackLocalStaticRTP // mesh links' track; nil with NoVideo
	audio    *webrtc.TrackLocalStaticRTP // nil with NoAudio
	sfuVideo *webrtc.TrackLocalStaticRTP // the SFU connection's, gated by sfuPublish; nil with NoVideo
	sfuAudio *webrtc.TrackLocalStaticRTP // nil with NoAudio
	videoSrc *videoSource                // nil with NoVideo
	sim      *simulcast                  // nil without Config.Simulcast or with NoVideo
	audioSrc *audioSource                // nil with NoAudio
	downlink *downlink                   // the capped socket; nil without Config.DownlinkBitrate

	// sfuPublish gates the packets written to the SFU's tracks (see
	// sink): on in SFU mode, off once a switch back to mesh completed.
	sfuPublish atomic.Bool
	// plis counts key-frame requests received for the video.
	plis atomic.Uint64
	// readGate, when set, holds track readers until it is closed
	// (PauseReading).
	readGate atomic.Pointer[chan struct{}]

	sigMu         sync.Mutex // guards the fields below (reconnect.go)
	sig           *sigclient.Client
	welcome       sigclient.Welcome
	outbox        []outgoing // signals waiting for signaling to come back
	outboxDropped int        // signals dropped because outbox was full
	shutdownSeen  bool       // server-shutdown with reconnect: true arrived
	reconnections []Reconnection

	ctx       context.Context // ends media sources and link actors
	cancel    context.CancelCauseFunc
	runDone   chan struct{} // closed when the event loop has returned
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu          sync.Mutex // guards the fields below
	closing     bool       // no new goroutines may start
	links       map[string]*link
	sfu         *sfuLink // nil until the room first uses the SFU
	members     map[string]*member
	counters    map[trackKey]*counter
	viaCounters map[pathKey]*counter
	inbound     map[pathKey]inbound // tracks being read, for SendPLI
	departures  []Departure
	absences    []Absence
	refusals    []sigclient.ProtocolError
	mode        string
	policy      string
	switchedAt  time.Time // when mode last changed; zero before any change
	speaker     string
	srtp        map[string]int // SRTP profile → handshakes this side chose
}

// Join connects to the server, joins the room and starts publishing; it
// returns once the welcome arrived (media connects in the background: poll
// Received or Stats). ctx bounds the participant's whole lifetime, as with
// sigclient.Dial. Call Close or Leave when done.
func Join(ctx context.Context, cfg Config) (*Peer, error) {
	if cfg.URL == "" || cfg.Room == "" || cfg.Name == "" {
		return nil, ErrNoRoom
	}
	cfg = cfg.withDefaults()
	if _, ok := opusTOC(cfg.AudioPacketTime); !ok {
		return nil, fmt.Errorf("%w: %v", ErrAudioPacketTime, cfg.AudioPacketTime)
	}
	p := &Peer{
		cfg:         cfg,
		runDone:     make(chan struct{}),
		links:       map[string]*link{},
		members:     map[string]*member{},
		counters:    map[trackKey]*counter{},
		viaCounters: map[pathKey]*counter{},
		inbound:     map[pathKey]inbound{},
		srtp:        map[string]int{},
		streamID:    "pion-" + rand.Text()[:10],
	}
	var err error
	if cfg.DownlinkBitrate > 0 {
		if p.downlink, err = newDownlink(cfg.DownlinkBitrate, cfg.AllowNonLoopback); err != nil {
			return nil, err
		}
	}
	if p.api, err = newAPI(cfg, p.recordSRTP, p.downlink); err != nil {
		p.closeDownlink()
		return nil, err
	}
	// Two tracks per kind with the same ids (so the SFU forwards the
	// same msid the mesh links carry): the mesh links share one, the
	// SFU connection has the other, whose packets can be withheld.
	videoCap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate}
	audioCap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: audioClockRate, Channels: 2}
	for _, t := range []struct {
		dst  **webrtc.TrackLocalStaticRTP
		cap  webrtc.RTPCodecCapability
		id   string
		skip bool
	}{
		{&p.video, videoCap, "video", cfg.NoVideo},
		{&p.sfuVideo, videoCap, "video", cfg.NoVideo},
		{&p.audio, audioCap, "audio", cfg.NoAudio},
		{&p.sfuAudio, audioCap, "audio", cfg.NoAudio},
	} {
		if t.skip {
			continue
		}
		if *t.dst, err = webrtc.NewTrackLocalStaticRTP(t.cap, t.id, p.streamID); err != nil {
			return nil, fmt.Errorf("pionpeer: %s track: %w", t.id, err)
		}
	}

	if cfg.Simulcast && !cfg.NoVideo {
		if p.sim, err = newSimulcast(p.streamID); err != nil {
			return nil, err
		}
	}

	p.sig, err = sigclient.Dial(ctx, cfg.URL, cfg.Room, cfg.Name, cfg.SignalOptions...)
	if err != nil {
		p.closeDownlink()
		return nil, fmt.Errorf("pionpeer: join %q as %q: %w", cfg.Room, cfg.Name, err)
	}
	p.welcome = p.sig.Welcome()
	p.mode, p.policy = p.welcome.Mode, p.welcome.Policy
	if p.mode == "" {
		p.mode = modeMesh // a server that predates modes
	}
	for _, peer := range p.welcome.Peers {
		p.members[peer.ID] = &member{name: peer.Name}
	}
	p.log = cfg.Logger.With("peer", p.welcome.ID, "name", cfg.Name)
	if cfg.AllowNonLoopback {
		for _, s := range p.welcome.ICEServers {
			p.ice = append(p.ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}

	p.ctx, p.cancel = context.WithCancelCause(ctx)
	if p.video != nil && p.sim == nil {
		p.videoSrc = &videoSource{
			sinks:    []*sink{{track: p.video}, {track: p.sfuVideo, open: &p.sfuPublish}},
			fps:      cfg.FrameRate,
			bitrate:  cfg.VideoBitrate,
			keyEvery: max(1, int(cfg.KeyFrameInterval*time.Duration(cfg.FrameRate)/time.Second)),
		}
		p.wg.Go(func() { p.videoSrc.run(p.ctx) })
	}
	if p.sim != nil {
		for i, l := range simulcastLayers {
			sinks := []*sink{p.sim.layerSink(i, &p.sfuPublish)}
			if i == len(simulcastLayers)-1 {
				sinks = append([]*sink{{track: p.video}}, sinks...)
			}
			src := &videoSource{
				sinks:    sinks,
				fps:      cfg.FrameRate,
				bitrate:  cfg.VideoBitrate / l.bitrateDiv,
				keyEvery: max(1, int(cfg.KeyFrameInterval*time.Duration(cfg.FrameRate)/time.Second)),
				width:    l.width * cfg.SimulcastWidth / simulcastLayers[len(simulcastLayers)-1].width,
				height:   l.height * cfg.SimulcastHeight / simulcastLayers[len(simulcastLayers)-1].height,
				layer:    l.rid,
				temporal: !cfg.NoTemporal,
			}
			p.sim.srcs[i] = src
			p.wg.Go(func() { src.run(p.ctx) })
		}
		p.videoSrc = p.sim.srcs[len(simulcastLayers)-1]
	}
	if p.audio != nil {
		p.audioSrc = &audioSource{ptime: cfg.AudioPacketTime, sinks: []*sink{{track: p.audio}, {track: p.sfuAudio, open: &p.sfuPublish}}}
		p.wg.Go(func() { p.audioSrc.run(p.ctx) })
	}
	go p.run()
	return p, nil
}

// ID is the participant id the server assigned; a new one after a
// reconnection that could not resume.
func (p *Peer) ID() string { return p.Welcome().ID }

// Welcome is the server's last welcome to this participant.
func (p *Peer) Welcome() sigclient.Welcome {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	return p.welcome
}

// Signaling is the signaling client in use now, for tests that also want
// to send raw messages as this participant, or Drop it. A reconnection
// replaces it.
func (p *Peer) Signaling() *sigclient.Client { return p.currentSig() }

// Mode is the room's media path as last announced (mesh or sfu) in welcome
// or a mode message.
func (p *Peer) Mode() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Policy is the room's policy as last announced (auto, mesh-only or
// sfu-only).
func (p *Peer) Policy() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policy
}

// Speaker is the active speaker the SFU last announced; "" before any.
func (p *Peer) Speaker() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.speaker
}

// Remotes describes every remote participant, sorted by id. A remote is
// listed from the welcome or its peer-joined until its peer-left.
func (p *Peer) Remotes() []RemoteInfo {
	type snap struct {
		info RemoteInfo
		link *link
	}
	self := p.ID()
	p.mu.Lock()
	snaps := make([]snap, 0, len(p.members))
	for id, m := range p.members {
		snaps = append(snaps, snap{
			info: RemoteInfo{ID: id, Name: m.name, Path: m.path, Polite: self < id, Media: m.media, Away: m.away},
			link: p.links[id],
		})
	}
	s := p.sfu
	p.mu.Unlock()
	// Connection states take pion's locks: read them without ours.
	sfuState := webrtc.PeerConnectionStateNew
	if s != nil {
		sfuState = s.pc.ConnectionState()
	}
	out := make([]RemoteInfo, 0, len(snaps))
	for _, sn := range snaps {
		ri := sn.info
		ri.Mesh = sn.link != nil
		switch {
		case ri.Path == PathSFU, ri.Path == PathNone && sn.link == nil:
			ri.State = sfuState
		case sn.link != nil:
			ri.State = sn.link.state()
		default:
			ri.State = webrtc.PeerConnectionStateClosed // mesh path whose link is gone
		}
		out = append(out, ri)
	}
	slices.SortFunc(out, func(a, b RemoteInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SFU describes the connection to the SFU.
func (p *Peer) SFU() SFUInfo {
	p.mu.Lock()
	s := p.sfu
	p.mu.Unlock()
	info := SFUInfo{Publishing: p.sfuPublish.Load(), State: webrtc.PeerConnectionStateNew}
	if s != nil {
		info.Open = true
		info.State = s.pc.ConnectionState()
	}
	return info
}

// PauseReading makes this participant stop reading received RTP: its
// track readers wait, so packets pile up in pion's buffers and are dropped
// there, as with a subscriber too slow to keep up. ResumeReading undoes
// it. For tests of back-pressure.
func (p *Peer) PauseReading() {
	gate := make(chan struct{})
	p.readGate.CompareAndSwap(nil, &gate)
}

// ResumeReading lets the track readers continue after PauseReading.
func (p *Peer) ResumeReading() {
	if gate := p.readGate.Swap(nil); gate != nil {
		close(*gate)
	}
}

// waitReading blocks while reading is paused. It returns false when ctx
// ends first.
func (p *Peer) waitReading(ctx context.Context) bool {
	gate := p.readGate.Load()
	if gate == nil {
		return true
	}
	select {
	case <-*gate:
		return true
	case <-ctx.Done():
		return false
	}
}

// Sent is the number of RTP packets of kind this participant has produced
// (each is written to every connection it publishes on): what receivers'
// counts are compared with to measure loss.
func (p *Peer) Sent(kind Kind) uint64 {
	switch {
	case kind == KindVideo && p.videoSrc != nil:
		return p.videoSrc.sent.Load()
	case kind == KindAudio && p.audioSrc != nil:
		return p.audioSrc.sent.Load()
	}
	return 0
}

// RequestKeyFrame makes this participant's next video frame a key frame, as
// a PLI from a receiver would.
func (p *Peer) RequestKeyFrame() {
	if p.videoSrc != nil {
		p.videoSrc.requestKeyFrame()
	}
}

// Departures lists the peer-left events received, in order.
func (p *Peer) Departures() []Departure {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.departures)
}

// Absences lists the peer-away events received, in order, each with the
// time of the matching peer-back.
func (p *Peer) Absences() []Absence {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.absences)
}

// Refusals lists the error messages the server sent this participant. A
// well-behaved participant gets none; tests assert that.
func (p *Peer) Refusals() []sigclient.ProtocolError {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.refusals)
}

// SRTPProfiles counts, by profile name, the SRTP protection profiles chosen
// in DTLS handshakes where this participant was the DTLS server (the side
// that chooses, RFC 5764 §4.1.2).
func (p *Peer) SRTPProfiles() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.srtp))
	for k, v := range p.srtp {
		out[k] = v
	}
	return out
}

func (p *Peer) recordSRTP(profile dtls.SRTPProtectionProfile) {
	name := srtpProfileName(profile)
	p.mu.Lock()
	p.srtp[name]++
	p.mu.Unlock()
}

func srtpProfileName(profile dtls.SRTPProtectionProfile) string {
	switch profile {
	case dtls.SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM"
	case dtls.SRTP_AEAD_AES_256_GCM:
		return "SRTP_AEAD_AES_256_GCM"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		return "SRTP_AES128_CM_HMAC_SHA1_80"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_32:
		return "SRTP_AES128_CM_HMAC_SHA1_32"
	}
	return fmt.Sprintf("SRTP profile 0x%04x", uint16(profile))
}

// Done is closed when the participant's signaling has ended for good
// (Close, Leave, the server closing with a close frame, ctx, or a
// reconnection that gave up) and its PeerConnections are closed.
func (p *Peer) Done() <-chan struct{} { return p.runDone }

// Err says why the current signaling connection ended (see
// sigclient.Client.Err), nil while up; during a reconnection, why the
// previous one ended.
func (p *Peer) Err() error { return p.currentSig().Err() }

// Leave sends `leave`, waits for the server to close the connection, then
// closes everything like Close.
func (p *Peer) Leave(ctx context.Context) error {
	err := p.currentSig().Leave(ctx)
	p.Close()
	if err != nil {
		return fmt.Errorf("pionpeer: %w", err)
	}
	return nil
}

// Close ends signaling, closes every PeerConnection, stops the media and
// waits for every goroutine this participant started. It is idempotent and
// returns nil.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.mu.Unlock()
		p.cancel(ErrClosed)
		_ = p.currentSig().Close()
		<-p.runDone
		p.wg.Wait()
		p.closeDownlink()
	})
	return nil
}

// closeDownlink closes the capped socket, if any, once no PeerConnection
// uses it.
func (p *Peer) closeDownlink() {
	if p.downlink != nil {
		p.downlink.close()
	}
}

// goTracked runs f on a goroutine counted by Close, unless closing has
// begun. pion calls OnTrack on goroutines of its own that may outlive the
// PeerConnection's close, and a WaitGroup must not grow once Wait started.
func (p *Peer) goTracked(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Go(f)
	return true
}

// pathCheckInterval is how often the event loop looks whether a switch
// can move a remote to its new path. 50 ms is short next to a frame
// interval at 15 fps, so a switch adds little to the first packet's
// arrival, and cheap: a few map lookups per remote.
const pathCheckInterval = 50 * time.Millisecond

// run is the event loop: it alone creates and removes links and the SFU
// connection, and moves remotes between paths.
func (p *Peer) run() {
	defer close(p.runDone)
	// A client a reconnection installed after Close read the old one.
	defer func() { _ = p.currentSig().Close() }()
	p.start(p.Welcome())
	tick := time.NewTicker(pathCheckInterval)
	defer tick.Stop()
	events := p.currentSig().Events()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				c := p.reconnect()
				if c == nil {
					p.closeAll()
					return
				}
				events = c.Events()
				continue
			}
			p.handle(ev)
		case <-tick.C:
			p.reconcilePaths(time.Now())
		}
	}
}

// start takes part in the room as welcome w describes it.
func (p *Peer) start(w sigclient.Welcome) {
	if p.mode == modeSFU {
		// Peers who join an SFU room are reached through the SFU only.
		p.sfuPublish.Store(true)
		p.openSFU()
		return
	}
	// Protocol: in a mesh the newcomer makes the first offer to every
	// peer listed in welcome.
	for _, peer := range w.Peers {
		if l := p.openLink(peer.ID); l != nil {
			l.post(l.publish)
		}
	}
	if p.cfg.SFUPreflight {
		p.openSFU() // sfuPublish is false: nothing is sent to it yet
	}
}

func (p *Peer) handle(ev sigclient.Event) {
	switch ev.Type {
	case sigclient.TypeSignal:
		if ev.From == sfuPeerID {
			p.mu.Lock()
			s := p.sfu
			p.mu.Unlock()
			if s == nil {
				p.log.Warn("signal from the SFU before this side opened a connection to it")
				return
			}
			data := ev.Data
			s.post(func() { s.handleSignal(data) })
			return
		}
		p.mu.Lock()
		l, mode := p.links[ev.From], p.mode
		p.mu.Unlock()
		if l == nil {
			if mode == modeSFU && !isOffer(ev.Data) {
				// Late candidates or media of a mesh link this side
				// closed after the switch: opening a link for them
				// would only make a connection that never
				// completes. A new offer is taken, though.
				p.log.Debug("dropping a mesh signal in SFU mode", "remote", ev.From)
				return
			}
			// Existing participants create the connection on the
			// newcomer's first signal; tracks are added after its
			// offer is applied, so they reuse its transceivers.
			if l = p.openLink(ev.From); l == nil {
				return
			}
		}
		data := ev.Data
		l.post(func() { l.handleSignal(data) })
	case sigclient.TypePeerLeft:
		p.mu.Lock()
		l := p.links[ev.Peer.ID]
		delete(p.links, ev.Peer.ID)
		delete(p.members, ev.Peer.ID)
		p.departures = append(p.departures, Departure{Peer: ev.Peer, Reason: ev.Reason, At: time.Now()})
		p.mu.Unlock()
		if l != nil {
			p.closeLinkAsync(l)
		}
	case sigclient.TypePeerAway:
		// Keep its connections: media between participants does not
		// need the server, and signals to it wait there.
		p.log.Debug("peer away", "remote", ev.Peer.ID, "reason", ev.Reason)
		p.mu.Lock()
		if m := p.members[ev.Peer.ID]; m != nil {
			m.away = true
		}
		p.absences = append(p.absences, Absence{Peer: ev.Peer, Reason: ev.Reason, Away: time.Now()})
		p.mu.Unlock()
	case sigclient.TypePeerBack:
		p.log.Debug("peer back", "remote", ev.Peer.ID)
		p.mu.Lock()
		if m := p.members[ev.Peer.ID]; m != nil {
			m.away = false
		}
		for i := len(p.absences) - 1; i >= 0; i-- {
			if a := &p.absences[i]; a.Peer.ID == ev.Peer.ID && a.Back.IsZero() {
				a.Back = time.Now()
				break
			}
		}
		p.mu.Unlock()
	case sigclient.TypePeerJoined:
		p.log.Debug("peer joined", "remote", ev.Peer.ID, "remoteName", ev.Peer.Name)
		p.mu.Lock()
		p.members[ev.Peer.ID] = &member{name: ev.Peer.Name}
		mode := p.mode
		l := p.links[ev.Peer.ID]
		p.mu.Unlock()
		if p.cfg.offerOnPeerJoined && mode == modeMesh && l == nil {
			if l = p.openLink(ev.Peer.ID); l != nil {
				l.post(l.publish)
			}
		}
	case sigclient.TypeMode:
		p.setMode(ev.Mode, ev.Policy)
	case sigclient.TypeError:
		p.mu.Lock()
		p.refusals = append(p.refusals, *ev.ProtocolError())
		p.mu.Unlock()
		p.log.Warn("server refused a message", "code", ev.Code, "message", ev.Message, "ref", ev.Ref)
	case sigclient.TypeServerShutdown:
		p.log.Info("server shutting down", "message", ev.Message, "reconnect", ev.Reconnect)
		if ev.Reconnect {
			p.sigMu.Lock()
			p.shutdownSeen = true
			p.sigMu.Unlock()
		}
	default:
		p.log.Warn("unexpected message from server", "raw", string(ev.Raw))
	}
}

// isOffer reports whether a signal payload is an SDP offer.
func isOffer(data json.RawMessage) bool {
	var in inboundPayload
	return json.Unmarshal(data, &in) == nil && in.Description != nil && in.Description.Type == webrtc.SDPTypeOffer
}

// openLink creates and registers the connection to remote.
func (p *Peer) openLink(remote string) *link {
	l, err := newLink(p, remote)
	if err != nil {
		p.log.Error("open connection", "remote", remote, "err", err)
		return nil
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		l.cancel()
		_ = l.pc.Close()
		return nil
	}
	p.links[remote] = l
	p.wg.Go(l.run)
	p.mu.Unlock()
	return l
}

// openSFU creates the connection to the SFU and makes its one offer, unless
// it exists.
func (p *Peer) openSFU() {
	p.mu.Lock()
	exists := p.sfu != nil
	p.mu.Unlock()
	if exists {
		return
	}
	s, err := newSFULink(p)
	if err != nil {
		p.log.Error("open SFU connection", "err", err)
		return
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		s.cancel()
		_ = s.pc.Close()
		return
	}
	p.sfu = s
	p.wg.Go(s.run)
	p.mu.Unlock()
	s.post(s.start)
}

// closeAll closes every remaining connection, in parallel: a graceful pion
// close waits for its transports, and there may be dozens.
func (p *Peer) closeAll() {
	p.mu.Lock()
	links, s := p.links, p.sfu
	p.links, p.sfu = map[string]*link{}, nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Go(l.close)
	}
	if s != nil {
		wg.Go(s.close)
	}
	wg.Wait()
}

// closeLinkAsync closes l without holding up the event loop: a graceful
// close waits for pion's transports.
func (p *Peer) closeLinkAsync(l *link) {
	if !p.goTracked(l.close) {
		l.close()
	}
}

// readTrack counts a remote track's packets until its connection closes.
// pc is the connection it arrived on, for SendPLI.
func (p *Peer) readTrack(ctx context.Context, from string, path Path, pc *webrtc.PeerConnection, tr *webrtc.TrackRemote) {
	kind := KindAudio
	if tr.Kind() == webrtc.RTPCodecTypeVideo {
		kind = KindVideo
	}
	total, via := p.countersFor(from, kind, path)
	key := pathKey{from, kind, path}
	p.mu.Lock()
	p.inbound[key] = inbound{ssrc: tr.SSRC(), pc: pc}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.inbound[key].pc == pc {
			delete(p.inbound, key)
		}
		p.mu.Unlock()
	}()
	buf := make([]byte, 1500) // above pion's default receive MTU (1460)
	var pkt rtp.Packet
	for p.waitReading(ctx) {
		n, _, err := tr.Read(buf)
		if err != nil {
			p.log.Debug("track ended", "remote", from, "kind", kind, "path", path, "ssrc", tr.SSRC(), "err", err)
			return
		}
		now := time.Now()
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if pkt.Padding && len(pkt.Payload) == 0 {
			continue // an SFU's probe padding (RFC 3550 §5.1): no media, as a browser's decoder sees it
		}
		_, stamped := ParseStamp(pkt.Payload)
		keyFrame := kind == KindVideo && isVP8KeyFrameStart(pkt.Payload)
		total.add(len(pkt.Payload), stamped, keyFrame, now)
		via.add(len(pkt.Payload), stamped, keyFrame, now)
		if p.cfg.OnPacket != nil {
			p.cfg.OnPacket(from, kind, &pkt, now)
		}
	}
}
