// Package sfu is Parley's selective forwarding unit: one pion
// PeerConnection per participant of an SFU room, forwarding every
// participant's RTP and data-channel messages to the others without
// decrypting or interpreting what they carry.
//
// The package knows nothing of WebSockets or of how rooms are decided:
// signaling calls Attach when a participant first talks to "sfu", relays
// the participant's payloads with Session.Signal, and gets the SFU's
// payloads back through the send callback. docs/sfu.md is the contract for
// those payloads.
//
// Lock order, everywhere: Server.mu, then room.mu; Session.negMu, then
// Session.dmu, then room.mu; Session.pubMu, then room.mu; Session.negMu,
// then Session.vmu; upTrack.mu, packetCache.mu and sessionSet.mu are
// leaves. No lock is held while sending on a channel that can block (every
// send is non-blocking), and neither Server.mu nor room.mu is ever held
// while calling into pion: a stalled pion call then holds up one session,
// never other rooms' joins or a metrics scrape (Stats takes only the
// sessionSet's leaf lock).
package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/pionlog"
)

// Config is how the SFU meets the network. The zero value is usable for a
// local run: an ephemeral port on every address, no public IP rewriting.
type Config struct {
	// UDPPort is the one UDP port every PeerConnection shares (an ICE
	// UDP mux), so a firewall needs one rule. 0 picks an ephemeral port
	// (tests); Port reports the one in use.
	UDPPort int
	// ListenIP is the address the port is bound on; "" binds every
	// address (IPv4 and IPv6). On a multi-homed host set it: replies leave
	// from the address the kernel routes through, which must be the one
	// clients reach.
	ListenIP string
	// PublicIPs are advertised instead of the local addresses in the host
	// candidates, for a server behind 1:1 NAT (a cloud VM with a public
	// IP mapped onto a private one).
	PublicIPs []string
	// Loopback includes loopback candidates and accepts loopback
	// addresses from clients: tests and local runs only.
	Loopback bool
	// Logger receives the SFU's logs (pion's included, at lower levels);
	// nil discards them.
	Logger *slog.Logger
	// NoBandwidthAdaptation turns off the downlink estimate and the
	// allocation that spends it (alloc.go): every subscriber then gets
	// what its view asks for, whatever its link carries, and forwarded
	// packets carry no transport-wide sequence numbers. For comparisons
	// (the constrained-link test's positive control, benchmarks).
	NoBandwidthAdaptation bool
	// NoDynacast stops the reports that tell publishers which simulcast
	// layers somebody receives (view.go): every publisher then encodes
	// all its layers. For comparisons (the publisher's CPU with and
	// without it, docs/benchmarks.md).
	NoDynacast bool
}

// Server is the SFU: it owns the UDP port and the rooms that have SFU
// participants. All its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	conn  *net.UDPConn
	mux   ice.UDPMux
	api   *webrtc.API
	pool  *sync.Pool // *packet, shared by every upTrack
	epoch time.Time  // now() counts from here (monotonic)
	ctr   counters
	bwe   estimators // hands each PeerConnection's estimator to its Session (bwe.go)

	ctx    context.Context // parent of every Session's context
	cancel context.CancelFunc
	wg     sync.WaitGroup // rooms' speaker loops

	live sessionSet // every session not yet retired (stats.go); its own leaf lock

	mu     sync.Mutex // guards the fields below; never held while calling into pion
	closed bool
	rooms  map[string]*room
}

// New opens the UDP port and prepares the WebRTC stack. The caller must
// Close the Server.
func New(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := listenUDP(cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		_ = conn.Close()
		return nil, err
	}
	mux := webrtc.NewICEUDPMux(pionlog.Factory{Log: log, Levels: pionLevels}.NewLogger("ice-mux"), conn)
	s := &Server{
		cfg:   cfg,
		log:   log,
		conn:  conn,
		mux:   mux,
		pool:  newPacketPool(),
		epoch: time.Now(),
		rooms: map[string]*room{},
		live:  sessionSet{all: map[*Session]struct{}{}},
	}
	se, err := newSettingEngine(cfg, mux, log, &s.ctr)
	if err != nil {
		_ = mux.Close()
		return fail(err)
	}
	m, err := newMediaEngine()
	if err != nil {
		_ = mux.Close()
		return fail(err)
	}
	var est *estimators
	if !cfg.NoBandwidthAdaptation {
		est = &s.bwe
	}
	reg, err := newInterceptors(m, est, pionlog.Factory{Log: log, Levels: pionLevels})
	if err != nil {
		_ = mux.Close()
		return fail(err)
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	log.Info("sfu listening", "udp", conn.LocalAddr().String(), "public", cfg.PublicIPs)
	return s, nil
}

// Port is the UDP port in use (the configured one, or the ephemeral one
// picked for 0), e.g. for TURN's allowance toward the server's own SFU.
func (s *Server) Port() int {
	return s.conn.LocalAddr().(*net.UDPAddr).Port
}

// now is the server's monotonic clock in nanoseconds, read once per
// received packet.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

// Attach creates the SFU side of participant peerID in room. send delivers
// the SFU's payloads to the participant (signaling wraps them as
// {"type":"signal","from":"sfu","data":…}); it is called from several
// goroutines and must not block. The participant's first offer then comes
// through Session.Signal.
func (s *Server) Attach(roomName, peerID string, send func(data json.RawMessage), opts AttachOptions) (*Session, error) {
	if roomName == "" || peerID == "" || send == nil {
		return nil, fmt.Errorf("%w: attach needs a room, a participant id and a send function", ErrInvalid)
	}
	s.mu.Lock()
	closed, dup := s.closed, s.rooms[roomName] != nil && s.rooms[roomName].has(peerID)
	s.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("sfu: attach %s: %w", peerID, ErrClosed)
	case dup:
		return nil, fmt.Errorf("sfu: attach %s to %s: %w", peerID, roomName, ErrDuplicatePeer)
	}

	// Building a PeerConnection takes a while: not under the lock.
	ss, err := newSession(s, peerID)
	if err != nil {
		return nil, err
	}
	ss.sendFn = send
	ss.receiveOnly = opts.ReceiveOnly
	ss.log = s.log.With("room", roomName, "peer", peerID)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ss.abort()
		return nil, fmt.Errorf("sfu: attach %s: %w", peerID, ErrClosed)
	}
	r := s.rooms[roomName]
	if r == nil {
		r = newRoom(s, roomName)
		s.rooms[roomName] = r
		s.wg.Add(1)
		go r.speakerLoop(r.stop)
	}
	r.mu.Lock()
	if r.sessions[peerID] != nil {
		r.mu.Unlock()
		s.mu.Unlock()
		ss.abort()
		return nil, fmt.Errorf("sfu: attach %s to %s: %w", peerID, roomName, ErrDuplicatePeer)
	}
	ss.room = r
	r.sessions[peerID] = ss
	s.live.add(ss) // under s.mu: Close, which sets s.closed under it, sees ss
	s.ctr.sessions.Add(1)
	s.mu.Unlock()
	r.greet(ss)
	r.mu.Unlock()
	// pion's setters take the PeerConnection's own locks, so they run
	// under none of ours. Nothing reaches ss before its first offer
	// (Signal, after Attach returns) but renegotiation kicks and
	// forwarded packets, which wait in its buffered channels.
	ss.start()
	ss.log.Info("sfu session attached")
	return ss, nil
}

// AttachOptions says what a participant may do through the SFU.
type AttachOptions struct {
	// ReceiveOnly: the participant may not publish (a join token said
	// so). Its audio and video are read and dropped, never forwarded:
	// the one place the server can enforce this (a mesh cannot be
	// policed). Its data channels still work.
	ReceiveOnly bool
}

// has reports whether peerID is attached. Takes r.mu.
func (r *room) has(peerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[peerID] != nil
}

// abort discards a session that never joined a room.
func (ss *Session) abort() {
	ss.cancel()
	_ = ss.pc.Close()
}

// leave takes ss out of its room: its tracks are withdrawn (the others
// renegotiate them away), and an empty room is removed.
func (s *Server) leave(ss *Session) {
	r := ss.room
	s.mu.Lock()
	r.mu.Lock()
	if r.sessions[ss.id] == ss {
		delete(r.sessions, ss.id)
		delete(r.media, ss.id)
		if r.speaker == ss.id {
			r.speaker = "" // newcomers are not told of a speaker who left
		}
	}
	kept := r.tracks[:0]
	withdrew := false
	for _, t := range r.tracks {
		if t.owner == ss {
			withdrew = true
			continue
		}
		kept = append(kept, t)
	}
	clear(r.tracks[len(kept):])
	r.tracks = kept
	to := r.others(nil)
	if len(r.sessions) == 0 && s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		close(r.stop)
	}
	r.mu.Unlock()
	s.mu.Unlock()
	if withdrew {
		for _, o := range to {
			o.renegotiate()
		}
	}
}

// retire moves a closed session's counters into the server's totals.
func (s *Server) retire(ss *Session) {
	if s.live.retire(ss) {
		s.ctr.sessions.Add(-1)
	}
}

// Close closes every session and the UDP port, and returns when every
// goroutine the Server started has ended. Attach fails afterwards.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	sessions := s.live.list() // Attach adds under s.mu before it sees closed: none is missed

	var wg sync.WaitGroup
	for _, ss := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.Close()
		}()
	}
	wg.Wait()
	s.cancel()
	s.wg.Wait()
	if err := s.mux.Close(); err != nil {
		return fmt.Errorf("sfu: close udp mux: %w", err)
	}
	return nil
}
