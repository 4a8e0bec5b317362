// Package signaling is Parley's WebSocket endpoint: it admits participants
// into rooms, tells them about each other, and relays the small opaque
// messages (SDP, ICE, E2EE key material) they exchange. It owns all room
// state; nothing else mutates it. The wire protocol is docs/protocol.md.
package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/parleyhq/parley/internal/logsafe"
	"golang.org/x/time/rate"
)

// Options configures a Hub. Zero values take the documented defaults.
type Options struct {
	MeshMax       int           // largest mesh room (default 6)
	MeshDown      int           // an auto SFU room at or below this size returns to mesh (default max(2, MeshMax-2))
	MeshDownDelay time.Duration // how long it must stay that small first (default 10s)
	RoomMax       int           // hard cap per room (default 100)
	MaxFileBytes  int64         // largest file transfer clients allow, told in welcome (default 2 GiB)
	Policy        Policy        // policy of rooms no admin has set one for

	// UnencryptedRooms are room names or path.Match patterns whose
	// clients do not encrypt end to end (e2ee.go); told in welcome.
	UnencryptedRooms []string

	// SFU is the media server for rooms in SFU mode; nil keeps every room
	// a mesh.
	SFU SFU

	// ICEServers returns the ICE servers, with fresh TURN credentials, for
	// a participant about to be welcomed. Nil means none.
	ICEServers func(peerID string) []ICEServer

	// PublicURL is the URL people use to reach Parley: browsers whose
	// Origin is its origin (scheme, host, port) may connect. Empty: those
	// whose Origin is the request's own (origin.go).
	PublicURL string
	// Origins are further origins whose pages may connect, e.g.
	// https://app.example.com:8443 (config allowed_origins).
	Origins []string

	Logger *slog.Logger

	// Observer is told about joins, messages, errors, switches and client
	// reports, for metrics; nil counts nothing.
	Observer Observer

	// Cluster places rooms on the nodes of a cluster (remote.go); nil
	// keeps every room on this node.
	Cluster Cluster

	// Authorizer checks room passwords and join tokens; nil leaves every
	// room open.
	Authorizer Authorizer

	// ResumeGrace is how long a participant whose connection dropped
	// stays in its room, resumable (resume.go); default 20s, negative
	// turns resuming off.
	ResumeGrace time.Duration
	// MaxAway and MaxAwayPerAddress bound the away participants, in
	// all and per client address (away.go); defaults maxAwayTotal and
	// maxAwayPerAddress, tests lower them.
	MaxAway           int
	MaxAwayPerAddress int

	// Timing and budgets; tests shorten them.
	PingInterval time.Duration // default 4s
	PongWait     time.Duration // default 12s: a silent client is gone within 15s
	WriteWait    time.Duration // default 10s
	RateLimit    rate.Limit    // messages per second, default 50
	RateBurst    int           // default 200
	SendQueue    int           // outgoing messages buffered per connection, default 256
}

func (o *Options) setDefaults() {
	if o.MeshMax <= 0 {
		o.MeshMax = 6
	}
	if o.MeshDown <= 0 {
		o.MeshDown = max(2, o.MeshMax-2)
	}
	if o.MeshDownDelay <= 0 {
		o.MeshDownDelay = 10 * time.Second
	}
	if o.RoomMax <= 0 {
		o.RoomMax = 100
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 2 << 30
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.ResumeGrace == 0 {
		o.ResumeGrace = 20 * time.Second
	}
	if o.MaxAway <= 0 {
		o.MaxAway = maxAwayTotal
	}
	if o.MaxAwayPerAddress <= 0 {
		o.MaxAwayPerAddress = maxAwayPerAddress
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 4 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 12 * time.Second
	}
	if o.WriteWait <= 0 {
		o.WriteWait = 10 * time.Second
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 50
	}
	if o.RateBurst <= 0 {
		o.RateBurst = 200
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
}

// Hub is the signaling server: an http.Handler for /ws and the owner of
// every room.
//
// Lock order: Hub.mu, then a backlog's mu (resume.go), a leaf. Hub.mu is
// never held while calling into the SFU: Attach and Signal (signalSFU),
// Close (detachSFU) and State (snapshot.go) run after it is released, and
// so do the Authorizer and ICEServers callbacks. The other way round, the
// SFU's send callback (sendRouted) runs under the SFU's own locks and
// re-enters signaling without Hub.mu: it loads the participant's route
// (atomic) and queues on its connection (a non-blocking channel send, or
// under backlog.mu). Where that must end a participant (an away one whose
// backlog overflowed), enqueue starts expire on a goroutine of its own
// rather than take Hub.mu under the SFU's locks. The Observer is called
// with Hub.mu held and must not call the Hub.
type Hub struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	wg       sync.WaitGroup // one per served connection

	mu        sync.Mutex // guards the fields below, every room's fields and every conn's id, name, room and sfu
	rooms     map[string]*room
	peers     map[string]*conn   // joined participants by id
	conns     map[*conn]struct{} // every open connection, joined or not
	resumable map[string]*conn   // participants by resume token (resume.go)
	away      awayCount          // away participants, in all and by address (away.go)
	policy    Policy             // the global policy, changeable by an admin
	closing   bool

	probes chan struct{} // one token per goroutine asking the SFU for states (snapshot.go); not guarded by mu

	origins  originPolicy     // set by NewHub, read-only after
	refusals *logsafe.Limiter // refusals anyone can repeat (refused Origins, floods): capped, once a second; its own lock
}

// NewHub returns a Hub ready to serve.
func NewHub(opts Options) *Hub {
	opts.setDefaults()
	h := &Hub{
		opts:      opts,
		log:       opts.Logger,
		rooms:     make(map[string]*room),
		peers:     make(map[string]*conn),
		conns:     make(map[*conn]struct{}),
		resumable: make(map[string]*conn),
		policy:    opts.Policy,
		probes:    make(chan struct{}, maxStateProbes),
		refusals:  logsafe.NewLimiter(opts.Logger, 0),
	}
	var errs []error
	h.origins, errs = newOriginPolicy(opts.PublicURL, opts.Origins)
	for _, err := range errs {
		h.log.Error("origin check: ignoring a setting that names no origin", "err", err)
	}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Compression off on purpose: CPU per message, and compression
		// oracles over relayed data.
		EnableCompression: false,
		CheckOrigin:       h.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			h.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "status", status, "err", reason)
			http.Error(w, reason.Error(), status)
		},
	}
	return h
}

// checkOrigin refuses cross-site WebSocket hijacking and DNS rebinding
// (origin.go). Non-browser clients send no Origin and are accepted.
func (h *Hub) checkOrigin(r *http.Request) bool {
	values := r.Header.Values("Origin")
	if len(values) == 0 || (len(values) == 1 && values[0] == "") {
		return true
	}
	if len(values) == 1 {
		if origin, err := ParseOrigin(values[0]); err == nil && h.origins.allows(origin, r) {
			return true
		}
	}
	h.logRefusedOrigin(r)
	return false
}

// ServeHTTP upgrades the request to a WebSocket and serves it until the
// participant leaves.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := newConn(h, ws, r.RemoteAddr)
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		ws.Close()
		return
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	c.serve()
}

// Shutdown tells every client the server is going away, closes their
// connections, and waits for them to finish or for ctx to end.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()

	notice := encode(shutdownMsg{Type: TypeServerShutdown, Message: "the server is restarting; reconnecting", Reconnect: true})
	for _, c := range conns {
		c.send(notice)
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.kill()
		}
		<-done
		return ctx.Err()
	}
}

// join admits c into the room req names and welcomes it.
func (h *Hub) join(c *conn, req request) *ProtocolError {
	if req.resume != "" {
		if ok, perr := h.resume(c, req); ok || perr != nil {
			return perr
		}
	}
	var grant Grant
	if h.opts.Authorizer != nil {
		// Outside the lock: checking a password costs a bcrypt hash.
		// Background: a bcrypt hash cannot be interrupted anyway.
		var perr *ProtocolError
		grant, perr = h.opts.Authorizer.Authorize(context.Background(), JoinAuth{
			Room: req.room, Name: req.name, Password: req.password, Token: req.token, RemoteIP: c.ip,
		})
		if perr != nil {
			return perr
		}
		if grant.Name != "" {
			name, perr := cleanName(grant.Name)
			if perr != nil {
				return protoErr(CodeBadToken, "the token's name cannot be shown: %s", perr.Message)
			}
			req.name = name
		}
	}
	id := newID()
	var ice []ICEServer
	if h.opts.ICEServers != nil {
		ice = h.opts.ICEServers(id) // minted outside the lock: HMAC per join
	}

	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return protoErr(CodeInternal, "the server is shutting down")
	}
	evicted, perr := h.joinLocked(c, req, id, grant, ice)
	h.mu.Unlock()
	for _, s := range evicted {
		detachSFU(s)
	}
	return perr
}

// joinLocked is join with Hub.mu held. It returns the SFU sessions of away
// participants that left to make room (admitLocked), to close once the
// lock is released.
func (h *Hub) joinLocked(c *conn, req request, id string, grant Grant, ice []ICEServer) ([]SFUSession, *ProtocolError) {
	for h.peers[id] != nil {
		id = newID()
	}
	r := h.rooms[req.room]
	if r == nil {
		r = &room{name: req.room, policy: h.policy, unencrypted: h.opts.unencryptedByConfig(req.room)}
	}
	evicted, perr := h.admitLocked(r)
	if perr != nil {
		return evicted, perr
	}
	h.rooms[req.room] = r
	c.id, c.name, c.room = id, req.name, r
	c.perms = grant.Permissions
	c.route = &route{}
	c.route.Store(c)
	h.peers[id] = c
	r.members = append(r.members, c)
	// The room may switch now; the others hear `mode` before
	// `peer-joined`, the newcomer reads the mode in its welcome.
	h.evaluate(r, c)
	c.send(encode(h.welcomeLocked(c, r, ice, false)))
	h.opts.Observer.Joined()
	r.broadcast(encode(peerMsg{Type: TypePeerJoined, Peer: c.peer()}), c)
	c.log.Info("joined", "room", r.name, "peer", id, "participants", len(r.members), "mode", r.mode)
	return evicted, nil
}

// welcomeLocked is c's welcome into r, with a fresh resume token. Hub.mu
// held.
func (h *Hub) welcomeLocked(c *conn, r *room, ice []ICEServer, resumed bool) welcomeMsg {
	peers := make([]Peer, 0, len(r.members)-1)
	for _, m := range r.members {
		if m != c {
			peers = append(peers, m.peer())
		}
	}
	return welcomeMsg{
		Type: TypeWelcome, V: ProtocolVersion,
		ID: c.id, Room: r.name, Name: c.name,
		Peers: peers, Mode: r.mode, Policy: r.policy, E2EE: !r.unencrypted,
		ICEServers:  ice,
		Limits:      Limits{MeshMax: h.opts.MeshMax, MaxMessageBytes: MaxMessageBytes, MaxSFUSignal: MaxSFUSignalBytes, MaxNameLength: MaxNameRunes, MaxFileBytes: h.opts.MaxFileBytes},
		Permissions: c.perms,
		Resume:      h.issueTokenLocked(c),
		Resumed:     resumed,
		MLS:         r.mls.state(),
	}
}

// leave takes c out of its room, if it is in one, and tells the others why.
// It is idempotent.
func (h *Hub) leave(c *conn, reason string) {
	h.mu.Lock()
	sess := h.leaveLocked(c, reason)
	h.mu.Unlock()
	detachSFU(sess)
}

// leaveLocked is leave with Hub.mu held. It returns c's SFU session for the
// caller to close once the lock is released.
func (h *Hub) leaveLocked(c *conn, reason string) SFUSession {
	r := c.room
	if r == nil {
		return nil
	}
	sess := c.sfu
	c.room, c.sfu = nil, nil
	h.forgetLocked(c)
	delete(h.peers, c.id)
	r.remove(c)
	r.broadcast(encode(peerMsg{Type: TypePeerLeft, Peer: c.peer(), Reason: reason}), nil)
	h.mlsLeftLocked(c, r)
	if len(r.members) == 0 {
		r.stopDownTimer()
		delete(h.rooms, r.name)
	} else {
		h.evaluate(r, nil)
	}
	c.log.Info("left", "room", r.name, "peer", c.id, "reason", reason, "participants", len(r.members))
	return sess
}

// relay forwards a signal or key message from c to one peer, or for a key
// message without `to`, to every other participant.
func (h *Hub) relay(c *conn, req request) *ProtocolError {
	msg := encode(relayMsg{Type: req.typ, From: c.id, Data: req.data})
	h.mu.Lock()
	defer h.mu.Unlock()
	r := c.room
	if r == nil { // removed (kicked, room closed) since handle checked
		return protoErr(CodeNotJoined, "send join before %s", req.typ)
	}
	if req.to == "" {
		r.broadcast(msg, c)
		return nil
	}
	to := r.member(req.to)
	if to == nil || to == c {
		return protoErr(CodeUnknownPeer, "no other participant %q in room %s", truncate(req.to, 32), r.name)
	}
	to.send(msg)
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newID returns a random 10-character participant id (50 bits): unguessable
// enough that ids never collide in practice and cannot be enumerated.
func newID() string {
	var b [7]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])[:10]
}
