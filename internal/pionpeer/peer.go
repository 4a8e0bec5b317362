// Package pionpeer is a synthetic Parley participant made with pion/webrtc:
// it joins a room through the real signaling protocol (internal/sigclient)
// and takes part in a mesh the way Parley's browser client does, publishing
// one VP8 and one Opus track with synthetic, self-describing payloads and
// counting what it receives from every other participant.
//
// Integration tests use it to hold calls against the real server without a
// browser, and the load tool (issue 7) uses it to measure: every payload ends
// with a Stamp (packet number and send time).
//
// Mesh behaviour follows docs/protocol.md "Client-to-client payloads": one
// PeerConnection per remote participant; the newcomer offers to everyone in
// its welcome; the others create their PeerConnection on the first signal
// from it and answer; descriptions and trickled candidates travel as
// {"description": …} and {"candidate": …}, stream roles as {"media": …};
// glare is resolved by perfect negotiation, the lexically smaller id being
// polite.
package pionpeer

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/sigclient"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Defaults for Config's zero values. Modest on purpose: a 6-person mesh
// under the race detector is 30 streams on 2 cores.
const (
	defaultVideoBitrate     = 300_000 // the lowest of issue 7's bitrates
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

	// AllowNonLoopback lifts the default restriction of ICE to IPv4 UDP
	// on loopback and uses the welcome's ICE servers. Leave it false in
	// tests: with it false no media can leave the machine.
	AllowNonLoopback bool

	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// SignalOptions are passed to sigclient.Dial.
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

// RemoteInfo describes the connection to one remote participant.
type RemoteInfo struct {
	ID     string
	Polite bool // this side yields in glare
	State  webrtc.PeerConnectionState
	Media  MediaState // the remote's last {"media": …}; zero before one
}

// Peer is one synthetic participant. Its methods are safe for concurrent use.
type Peer struct {
	cfg      Config
	log      *slog.Logger
	sig      *sigclient.Client
	welcome  sigclient.Welcome
	api      *webrtc.API
	ice      []webrtc.ICEServer
	streamID string
	video    *webrtc.TrackLocalStaticRTP // nil with NoVideo
	audio    *webrtc.TrackLocalStaticRTP // nil with NoAudio

	ctx       context.Context // ends media sources and link actors
	cancel    context.CancelCauseFunc
	runDone   chan struct{} // closed when the event loop has returned
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu         sync.Mutex // guards the fields below
	closing    bool       // no new goroutines may start
	links      map[string]*link
	counters   map[trackKey]*counter
	departures []Departure
	refusals   []sigclient.ProtocolError
	mode       string
	srtp       map[string]int // SRTP profile → handshakes this side chose
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
	p := &Peer{
		cfg:      cfg,
		runDone:  make(chan struct{}),
		links:    map[string]*link{},
		counters: map[trackKey]*counter{},
		srtp:     map[string]int{},
		streamID: "pion-" + rand.Text()[:10],
	}
	var err error
	if p.api, err = newAPI(cfg, p.recordSRTP); err != nil {
		return nil, err
	}
	if !cfg.NoVideo {
		p.video, err = webrtc.NewTrackLocalStaticRTP(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate},
			"video", p.streamID)
		if err != nil {
			return nil, fmt.Errorf("pionpeer: video track: %w", err)
		}
	}
	if !cfg.NoAudio {
		p.audio, err = webrtc.NewTrackLocalStaticRTP(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: audioClockRate, Channels: 2},
			"audio", p.streamID)
		if err != nil {
			return nil, fmt.Errorf("pionpeer: audio track: %w", err)
		}
	}

	p.sig, err = sigclient.Dial(ctx, cfg.URL, cfg.Room, cfg.Name, cfg.SignalOptions...)
	if err != nil {
		return nil, fmt.Errorf("pionpeer: join %q as %q: %w", cfg.Room, cfg.Name, err)
	}
	p.welcome = p.sig.Welcome()
	p.mode = p.welcome.Mode
	p.log = cfg.Logger.With("peer", p.welcome.ID, "name", cfg.Name)
	if cfg.AllowNonLoopback {
		for _, s := range p.welcome.ICEServers {
			p.ice = append(p.ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}

	p.ctx, p.cancel = context.WithCancelCause(ctx)
	if p.video != nil {
		v := &videoSource{
			track:    p.video,
			fps:      cfg.FrameRate,
			bitrate:  cfg.VideoBitrate,
			keyEvery: max(1, int(cfg.KeyFrameInterval*time.Duration(cfg.FrameRate)/time.Second)),
		}
		p.wg.Go(func() { v.run(p.ctx) })
	}
	if p.audio != nil {
		a := &audioSource{track: p.audio}
		p.wg.Go(func() { a.run(p.ctx) })
	}
	go p.run()
	return p, nil
}

// ID is the participant id the server assigned.
func (p *Peer) ID() string { return p.welcome.ID }

// Welcome is the server's welcome to this participant.
func (p *Peer) Welcome() sigclient.Welcome { return p.welcome }

// Signaling is the underlying signaling client, for tests that also want
// to send raw messages as this participant.
func (p *Peer) Signaling() *sigclient.Client { return p.sig }

// Mode is the room's media path as last announced (mesh or sfu). This
// participant only takes part in a mesh.
func (p *Peer) Mode() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Remotes describes the open connection to every remote participant, sorted
// by id. A remote is listed from its first signal (or from the welcome) until
// its peer-left.
func (p *Peer) Remotes() []RemoteInfo {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for _, l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	out := make([]RemoteInfo, 0, len(links))
	for _, l := range links {
		out = append(out, l.info())
	}
	slices.SortFunc(out, func(a, b RemoteInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Departures lists the peer-left events received, in order.
func (p *Peer) Departures() []Departure {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.departures)
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

// Done is closed when the participant's signaling has ended (Close, Leave,
// the server closing, or ctx) and its PeerConnections are closed.
func (p *Peer) Done() <-chan struct{} { return p.runDone }

// Err says why signaling ended (see sigclient.Client.Err), nil while up.
func (p *Peer) Err() error { return p.sig.Err() }

// Leave sends `leave`, waits for the server to close the connection, then
// closes everything like Close.
func (p *Peer) Leave(ctx context.Context) error {
	err := p.sig.Leave(ctx)
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
		_ = p.sig.Close()
		<-p.runDone
		p.wg.Wait()
	})
	return nil
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

// run is the event loop: it alone creates and removes links.
func (p *Peer) run() {
	defer close(p.runDone)
	// Protocol: in a mesh the newcomer makes the first offer to every peer
	// listed in welcome.
	if p.mode == "mesh" || p.mode == "" {
		for _, peer := range p.welcome.Peers {
			if l := p.openLink(peer.ID); l != nil {
				l.post(l.publish)
			}
		}
	}
	for ev := range p.sig.Events() {
		p.handle(ev)
	}
	p.closeLinks()
}

func (p *Peer) handle(ev sigclient.Event) {
	switch ev.Type {
	case sigclient.TypeSignal:
		p.mu.Lock()
		l := p.links[ev.From]
		p.mu.Unlock()
		if l == nil {
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
		p.departures = append(p.departures, Departure{Peer: ev.Peer, Reason: ev.Reason, At: time.Now()})
		p.mu.Unlock()
		if l != nil {
			l.close()
		}
	case sigclient.TypePeerJoined:
		p.log.Debug("peer joined", "remote", ev.Peer.ID, "remoteName", ev.Peer.Name)
		if p.cfg.offerOnPeerJoined {
			p.mu.Lock()
			l := p.links[ev.Peer.ID]
			p.mu.Unlock()
			if l == nil {
				if l = p.openLink(ev.Peer.ID); l != nil {
					l.post(l.publish)
				}
			}
		}
	case sigclient.TypeMode:
		p.mu.Lock()
		p.mode = ev.Mode
		p.mu.Unlock()
		if ev.Mode != "mesh" {
			p.log.Warn("room left mesh mode; this participant only takes part in a mesh", "mode", ev.Mode)
		}
	case sigclient.TypeError:
		p.mu.Lock()
		p.refusals = append(p.refusals, *ev.ProtocolError())
		p.mu.Unlock()
		p.log.Warn("server refused a message", "code", ev.Code, "message", ev.Message, "ref", ev.Ref)
	case sigclient.TypeServerShutdown:
		p.log.Info("server shutting down", "message", ev.Message)
	default:
		p.log.Warn("unexpected message from server", "raw", string(ev.Raw))
	}
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

// closeLinks closes every remaining connection, in parallel: a graceful
// pion close waits for its transports, and there may be dozens.
func (p *Peer) closeLinks() {
	p.mu.Lock()
	links := p.links
	p.links = map[string]*link{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Go(l.close)
	}
	wg.Wait()
}

// readTrack counts a remote track's packets until its PeerConnection closes.
func (p *Peer) readTrack(from string, tr *webrtc.TrackRemote) {
	kind := KindAudio
	if tr.Kind() == webrtc.RTPCodecTypeVideo {
		kind = KindVideo
	}
	c := p.counterFor(from, kind)
	buf := make([]byte, 1500) // above pion's default receive MTU (1460)
	var pkt rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		_, stamped := ParseStamp(pkt.Payload)
		c.add(len(pkt.Payload), stamped, now)
		if p.cfg.OnPacket != nil {
			p.cfg.OnPacket(from, kind, &pkt, now)
		}
	}
}
