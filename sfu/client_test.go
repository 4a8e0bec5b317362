package sfu

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// This file is the test participant: a pion PeerConnection that behaves
// like Parley's browser client toward the SFU (first offer, polite side of
// perfect negotiation, trickle ICE), wired to a Session in-process, with no
// WebSocket in between. Loopback only (docs/architecture.md §6, "pion in tests").

// newTestServer starts an SFU on 127.0.0.1 with an ephemeral port.
func newTestServer(t testing.TB) *Server {
	return newTestServerWith(t, Config{})
}

// newTestServerWith is newTestServer with cfg's other settings (the
// address, loopback and logger are the tests').
func newTestServerWith(t testing.TB, cfg Config) *Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("SFU_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.ListenIP, cfg.Loopback, cfg.Logger = "127.0.0.1", true, log
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("sfu.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// clientOptions say what a test participant does.
type clientOptions struct {
	publish   bool // send VP8 and Opus
	data      bool // open a "chat" data channel before the first offer
	noRead    bool // never read RTP or RTCP (a stalled subscriber)
	loudAudio bool // audio-level extension says "speaking"

	receiveOnly bool // attach with AttachOptions.ReceiveOnly (a viewer)
	simulcast   bool // publish video as three layers q/h/f (simulcast_test.go)
	record      bool // keep every received video packet's numbers (received.log)
	frameBytes  int  // simulcast: bytes per video packet (default 300)
	downlink    int  // shape what the client receives to this many bits/s (bwe_test.go); 0: no shaper, < 0: a shaper left open
}

// received is what a client got on one forwarded track.
type received struct {
	stream, track, kind string
	ssrc                uint32
	packets             int
	levels              int // packets that carried the audio-level extension
	badPayloads         int
	seqs                map[uint16]int  // sequence number → times received
	padding             int             // probe padding packets (no payload)
	padSeqs             map[uint16]bool // their sequence numbers
	lastSeq             uint16
	log                 []rxPacket // with clientOptions.record: video packets in arrival order
}

// testClient is one participant.
type testClient struct {
	t    testing.TB
	id   string
	ss   *Session
	pc   *webrtc.PeerConnection
	opts clientOptions

	video, audio *webrtc.TrackLocalStaticRTP
	videoSender  *webrtc.RTPSender
	chat         *webrtc.DataChannel

	inbox chan json.RawMessage
	done  chan struct{}
	wg    sync.WaitGroup
	hold  sync.Mutex // held by a test to pause handling the SFU's payloads

	paused   atomic.Bool  // publish sends nothing while set
	sentV    atomic.Int64 // video packets published
	sentA    atomic.Int64 // audio packets published
	plis     atomic.Int32 // PLIs (or FIRs) the SFU sent us as a publisher
	wantKey  atomic.Bool  // send a key frame next
	sfuOffer atomic.Int32 // SFU offers received

	mu       sync.Mutex // guards the fields below
	tracks   []trackInfo
	recv     map[string]*received // by track id
	speakers []string
	media    map[string]mediaState
	dataIn   []webrtc.DataChannelMessage
	remoteOK bool
	cands    []webrtc.ICECandidateInit

	// simulcast publishing (simulcast_test.go)
	layers    [maxLayers]*webrtc.TrackLocalStaticRTP
	layerKey  [maxLayers]atomic.Bool // send a key frame on that layer next
	layerMsgs []layersInfo           // `layers` payloads received (guarded by mu)

	// bandwidth (bwe_test.go)
	pausedMsgs [][]pausedItem // `paused` payloads received (guarded by mu)
	limiter    *downLimiter   // shapes what this client receives; nil: nothing
}

func clientAPI(t testing.TB) *webrtc.API {
	return clientAPIShaped(t, nil)
}

// clientAPIShaped is clientAPI with the client's downlink shaped by lim
// (nil: not shaped). The shaper comes first in the registry, so it sees
// packets before pion's transport-cc recorder does, as a link would.
func clientAPIShaped(t testing.TB, lim *downLimiter) *webrtc.API {
	t.Helper()
	m, err := newMediaEngine()
	if err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if lim != nil {
		reg.Add(lim)
	}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// The NACK test asks for a packet it already has: without this the
	// retransmission would be refused as an SRTP replay.
	se.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// join attaches a participant, makes its first offer and starts its media.
func join(t testing.TB, s *Server, roomName, id string, opts clientOptions) *testClient {
	t.Helper()
	c := &testClient{
		t: t, id: id, opts: opts,
		inbox: make(chan json.RawMessage, 4096),
		done:  make(chan struct{}),
		recv:  map[string]*received{},
		media: map[string]mediaState{},
	}
	if opts.downlink != 0 {
		c.limiter = newDownLimiter(max(opts.downlink, 0))
	}
	pc, err := clientAPIShaped(t, c.limiter).NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		t.Fatal(err)
	}
	c.pc = pc
	t.Cleanup(c.close)

	ss, err := s.Attach(roomName, id, func(d json.RawMessage) {
		select {
		case c.inbox <- d:
		default:
			t.Errorf("%s: inbox full", id)
		}
	}, AttachOptions{ReceiveOnly: opts.receiveOnly})
	if err != nil {
		t.Fatalf("attach %s: %v", id, err)
	}
	c.ss = ss

	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		var v any
		if cand != nil {
			v = cand.ToJSON()
		}
		c.signal(map[string]any{"candidate": v})
	})
	pc.OnTrack(c.onTrack)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) { c.listen(dc) })

	if opts.publish && opts.simulcast {
		c.addSimulcast()
	} else if opts.publish {
		c.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: clockRateVideo}, "video-"+id, "stream-"+id)
		if err != nil {
			t.Fatal(err)
		}
		c.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: clockRateAudio, Channels: 2}, "audio-"+id, "stream-"+id)
		if err != nil {
			t.Fatal(err)
		}
		if c.videoSender, err = pc.AddTrack(c.video); err != nil {
			t.Fatal(err)
		}
		audioSender, err := pc.AddTrack(c.audio)
		if err != nil {
			t.Fatal(err)
		}
		c.drainRTCP(c.videoSender, true)
		c.drainRTCP(audioSender, false)
	}
	if opts.data {
		if c.chat, err = pc.CreateDataChannel("chat", nil); err != nil {
			t.Fatal(err)
		}
		c.listen(c.chat)
	}
	if !opts.publish && !opts.data {
		// A receive-only client still offers something.
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	if opts.publish {
		c.signal(map[string]any{"media": mediaState{Camera: "stream-" + id, Mic: true, Cam: true}})
	}

	c.wg.Add(1)
	go c.run()

	c.offer()

	if opts.publish {
		c.wg.Add(1)
		if opts.simulcast {
			go c.publishSimulcast()
		} else {
			go c.publish()
		}
	}
	return c
}

// offer makes and sends an offer (the first one, or a renegotiation).
func (c *testClient) offer() {
	offer, err := c.pc.CreateOffer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(offer)
	}
	if err != nil {
		c.errorf("%s: offer: %v", c.id, err)
		return
	}
	c.signal(map[string]any{"description": offer})
}

// signal sends a payload to the SFU the way signaling would.
func (c *testClient) signal(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.errorf("%s: marshal: %v", c.id, err)
		return
	}
	if err := c.ss.Signal(b); err != nil && !errors.Is(err, ErrClosed) {
		c.errorf("%s: Signal(%.80s): %v", c.id, b, err)
	}
}

// run handles the SFU's payloads, in order, like the browser client.
func (c *testClient) run() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case d := <-c.inbox:
			c.hold.Lock()
			c.handle(d)
			c.hold.Unlock()
		}
	}
}

func (c *testClient) handle(d json.RawMessage) {
	var m struct {
		Description *webrtc.SessionDescription `json:"description"`
		Candidate   json.RawMessage            `json:"candidate"`
		Tracks      *[]trackInfo               `json:"tracks"`
		Speaker     *string                    `json:"speaker"`
		Peer        string                     `json:"peer"`
		Media       *mediaState                `json:"media"`
		Layers      *layersInfo                `json:"layers"`
		Paused      *[]pausedItem              `json:"paused"`
	}
	if err := json.Unmarshal(d, &m); err != nil {
		c.errorf("%s: bad payload from sfu %s: %v", c.id, d, err)
		return
	}
	switch {
	case m.Description != nil && m.Description.Type == webrtc.SDPTypeOffer:
		c.sfuOffer.Add(1)
		if c.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			// A browser (polite) would roll its offer back; pion v4.2.20
			// cannot roll back a local offer, so tests avoid real glare.
			c.errorf("%s: glare with an offer of our own", c.id)
			return
		}
		if err := c.pc.SetRemoteDescription(*m.Description); err != nil {
			c.errorf("%s: set sfu offer: %v", c.id, err)
			return
		}
		c.remoteSet()
		answer, err := c.pc.CreateAnswer(nil)
		if err == nil {
			err = c.pc.SetLocalDescription(answer)
		}
		if err != nil {
			c.errorf("%s: answer: %v", c.id, err)
			return
		}
		c.signal(map[string]any{"description": answer})
	case m.Description != nil:
		if err := c.pc.SetRemoteDescription(*m.Description); err != nil {
			c.errorf("%s: set sfu answer: %v", c.id, err)
		}
		c.remoteSet()
	case m.Candidate != nil:
		if string(m.Candidate) == "null" {
			return
		}
		var ci webrtc.ICECandidateInit
		if err := json.Unmarshal(m.Candidate, &ci); err != nil {
			c.errorf("%s: candidate: %v", c.id, err)
			return
		}
		c.mu.Lock()
		if !c.remoteOK {
			c.cands = append(c.cands, ci)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.pc.AddICECandidate(ci); err != nil {
			c.errorf("%s: add candidate: %v", c.id, err)
		}
	case m.Tracks != nil:
		c.mu.Lock()
		c.tracks = *m.Tracks
		c.mu.Unlock()
	case m.Speaker != nil:
		c.mu.Lock()
		c.speakers = append(c.speakers, *m.Speaker)
		c.mu.Unlock()
	case m.Media != nil:
		c.mu.Lock()
		c.media[m.Peer] = *m.Media
		c.mu.Unlock()
	case m.Layers != nil:
		c.mu.Lock()
		c.layerMsgs = append(c.layerMsgs, *m.Layers)
		c.mu.Unlock()
	case m.Paused != nil:
		c.mu.Lock()
		c.pausedMsgs = append(c.pausedMsgs, *m.Paused)
		c.mu.Unlock()
	default:
		c.errorf("%s: unknown payload from sfu: %s", c.id, d)
	}
}

func (c *testClient) remoteSet() {
	c.mu.Lock()
	c.remoteOK = true
	cands := c.cands
	c.cands = nil
	c.mu.Unlock()
	for _, ci := range cands {
		if err := c.pc.AddICECandidate(ci); err != nil {
			c.errorf("%s: add queued candidate: %v", c.id, err)
		}
	}
}

// Test media. Every payload is "encrypted" test data the SFU must pass
// through untouched: a codec header in clear (VP8 descriptor and first
// frame byte, or the Opus TOC byte), then an 8-byte seed, then bytes derived
// from the seed. The receiver recomputes them.
const (
	framesPerSecond  = 30
	packetsPerFrame  = 3
	videoPacketBytes = 1000
	audioPacketBytes = 120
	keyframeEvery    = framesPerSecond // one key frame per second
)

func fillPayload(b []byte, seed uint64) {
	binary.BigEndian.PutUint64(b, seed)
	x := seed | 1
	for i := 8; i < len(b); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
}

func checkPayload(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	want := make([]byte, len(b))
	fillPayload(want, binary.BigEndian.Uint64(b))
	return string(want) == string(b)
}

// videoPayload builds one VP8 packet: descriptor (S bit on the first packet
// of a frame), then on a frame's first packet the payload header byte with
// the P bit (0: key frame), then the seeded test bytes.
func videoPayload(first, key bool, seed uint64) []byte {
	b := make([]byte, videoPacketBytes)
	off := 1
	if first {
		b[0] = 0x10 // S=1, PID=0
		b[1] = 0x01 // P=1: delta frame
		if key {
			b[1] = 0x00
		}
		off = 2
	}
	fillPayload(b[off:], seed)
	return b
}

// checkMedia verifies a received payload and reports whether it is intact.
func checkMedia(kind string, p []byte) bool {
	if len(p) < 2 {
		return false
	}
	if kind == "audio" {
		return checkPayload(p[1:])
	}
	if p[0]&0x10 != 0 {
		return checkPayload(p[2:]) || (len(p) > simulcastHeader && checkPayload(p[simulcastHeader:]))
	}
	return checkPayload(p[1:])
}

// publish sends 30 fps VP8 (3 packets a frame, a key frame every second or
// right after a PLI) and 50 pps Opus until the client closes.
func (c *testClient) publish() {
	defer c.wg.Done()
	vt := time.NewTicker(time.Second / framesPerSecond)
	at := time.NewTicker(20 * time.Millisecond)
	defer vt.Stop()
	defer at.Stop()
	var vseq, aseq uint16
	var vts, ats uint32
	frame := 0
	level := byte(100) // quiet
	if c.opts.loudAudio {
		level = 30
	}
	var levelID uint8
	for {
		select {
		case <-c.done:
			return
		case <-vt.C:
			if c.paused.Load() {
				continue
			}
			key := frame%keyframeEvery == 0 || c.wantKey.Swap(false)
			for i := 0; i < packetsPerFrame; i++ {
				h := rtp.Header{Version: 2, SequenceNumber: vseq, Timestamp: vts, Marker: i == packetsPerFrame-1}
				seed := uint64(len(c.id))<<56 | uint64(vseq)<<16 | 0xBEEF
				if err := c.video.WriteRTP(&rtp.Packet{Header: h, Payload: videoPayload(i == 0, key, seed)}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					return
				}
				c.sentV.Add(1)
				vseq++
			}
			vts += clockRateVideo / framesPerSecond
			frame++
		case <-at.C:
			if c.paused.Load() {
				continue
			}
			if levelID == 0 {
				levelID = c.audioLevelID()
			}
			h := rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ats}
			if levelID != 0 {
				_ = h.SetExtension(levelID, []byte{level})
			}
			b := make([]byte, audioPacketBytes)
			b[0] = 0x78 // an Opus TOC byte, in clear
			fillPayload(b[1:], uint64(aseq)<<8|0x0A)
			if err := c.audio.WriteRTP(&rtp.Packet{Header: h, Payload: b}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
			c.sentA.Add(1)
			aseq++
			ats += clockRateAudio / 50
		}
	}
}

// audioLevelID is the negotiated id of the audio-level extension, once the
// first negotiation is done.
func (c *testClient) audioLevelID() uint8 {
	for _, tr := range c.pc.GetTransceivers() {
		if tr.Kind() != webrtc.RTPCodecTypeAudio || tr.Sender() == nil {
			continue
		}
		for _, e := range tr.Sender().GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				return uint8(e.ID)
			}
		}
	}
	return 0
}

// drainRTCP reads the RTCP the SFU sends us as a publisher, counting PLIs.
func (c *testClient) drainRTCP(s *webrtc.RTPSender, video bool) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			pkts, _, err := s.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					if video {
						c.plis.Add(1)
						c.wantKey.Store(true)
					}
				}
			}
		}
	}()
}

// onTrack counts what the SFU forwards to us and checks every payload.
func (c *testClient) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if c.opts.noRead {
		return // a stalled subscriber: never reads RTP or RTCP
	}
	r := &received{stream: tr.StreamID(), track: tr.ID(), kind: tr.Kind().String(), ssrc: uint32(tr.SSRC()), seqs: map[uint16]int{}, padSeqs: map[uint16]bool{}}
	c.mu.Lock()
	c.recv[tr.ID()] = r
	c.mu.Unlock()
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	go func() {
		defer c.wg.Done()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if p.Padding && len(p.Payload) == 0 {
				// Probe padding (probe.go): numbered, but no media.
				c.mu.Lock()
				r.padding++
				r.padSeqs[p.SequenceNumber] = true
				c.mu.Unlock()
				continue
			}
			ok := checkMedia(r.kind, p.Payload)
			c.mu.Lock()
			r.packets++
			if !ok {
				r.badPayloads++
			}
			r.seqs[p.SequenceNumber]++
			if p.Extension && len(p.Extensions) > 0 {
				r.levels++
			}
			r.lastSeq = p.SequenceNumber
			if c.opts.record && r.kind == "video" {
				r.log = append(r.log, rxPacketOf(p, ok))
			}
			c.mu.Unlock()
		}
	}()
}

func (c *testClient) listen(dc *webrtc.DataChannel) {
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		c.mu.Lock()
		c.dataIn = append(c.dataIn, m)
		c.mu.Unlock()
	})
}

// packetsFrom returns how many packets of publisher peer's track of kind
// this client has received (per the latest tracks payload).
func (c *testClient) packetsFrom(peer, kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ti := range c.tracks {
		if ti.Peer == peer && ti.Kind == kind {
			if r := c.recv[ti.Track]; r != nil {
				n += r.packets
			}
		}
	}
	return n
}

// trackOf returns the received stats of peer's track of kind.
func (c *testClient) trackOf(peer, kind string) (trackInfo, *received) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ti := range c.tracks {
		if ti.Peer == peer && ti.Kind == kind {
			return ti, c.recv[ti.Track]
		}
	}
	return trackInfo{}, nil
}

func (c *testClient) tracksNow() []trackInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]trackInfo(nil), c.tracks...)
}

func (c *testClient) badPayloads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.recv {
		n += r.badPayloads
	}
	return n
}

// errorf fails the test, unless the client is closing: then a
// negotiation cut short by the teardown is expected.
func (c *testClient) errorf(format string, args ...any) {
	select {
	case <-c.done:
		return
	default:
	}
	c.t.Helper()
	c.t.Errorf(format, args...)
}

// close leaves: the SFU session first (as signaling would), then the
// client's own connection and goroutines.
func (c *testClient) close() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	if c.ss != nil {
		c.ss.Close()
	}
	_ = c.pc.Close()
	c.wg.Wait()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *testClient) String() string { return fmt.Sprintf("client %s", c.id) }
