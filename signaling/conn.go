package signaling

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/logsafe"
)

const (
	// closeGrace bounds how long a connection lingers after the server sent
	// its close frame, waiting for the client's close reply.
	closeGrace = 2 * time.Second
	// hardReadLimit is where the WebSocket library itself cuts a frame off
	// (with 1009 and no error message); below it, frames over their limit
	// (MaxMessageBytes, or MaxSFUSignalBytes) are refused with too-large
	// first.
	hardReadLimit = 1 << 20
	// maxRefusals is how many rate-limited messages in a row a client may
	// send before it is disconnected with 1008: past that it is flooding,
	// not bursting.
	maxRefusals = 50
)

// CloseTakenOver is the WebSocket close code (RFC 6455 §7.4.2: 4000–4999
// are for applications) of a connection whose participant a resume took
// over (docs/protocol.md "Reconnecting"): another connection is the
// participant now, so this one must not reconnect or resume.
const CloseTakenOver = 4000

// outFrame is one queued write: a text message, or a close frame.
type outFrame struct {
	data      []byte
	batch     [][]byte // written after data, one message each (a resume's backlog)
	closeCode int
	closeText string
}

// conn is one client connection. Its read goroutine (serve) owns the
// decoding state; its write goroutine (writeLoop) is the only writer to the
// socket. id, name and room are guarded by Hub.mu.
type conn struct {
	hub     *Hub
	ws      wsConn // a browser's WebSocket, or a relayed one (remote_ws.go)
	ip      string // the client's address without port, for per-IP limits
	logID   string // the request id on every line of this connection
	log     *slog.Logger
	out     chan outFrame // bounded; a client that lets it fill is dropped
	done    chan struct{} // closed when the connection is finished
	wdone   chan struct{} // closed when writeLoop returns
	once    sync.Once
	closing atomic.Bool // a close frame has been queued
	lost    atomic.Bool // a message for it was discarded (queue full): it may not resume
	removed atomic.Bool // kicked, its room closed, or taken over: it handles nothing more
	moved   atomic.Bool // taken over by a resume: send refuses, so SFU messages find the new conn
	faulted atomic.Bool // the WebSocket library closed it for a protocol fault (1002, 1009): it may not resume
	remote  bool        // relayed from another node (remote.go); set before serve
	relay   relayState  // set once its room turned out to live on another node (remote.go)

	// owned by the read goroutine
	limiter        *rate.Limiter
	refusals       int
	lastRateErr    time.Time
	lastLinkFailed time.Time // the last link-failed accepted for handling (linkfailed.go)

	// guarded by Hub.mu
	id, name string
	room     *room
	sfu      SFUSession // this participant's SFU connection, once it made one

	// resuming (resume.go); guarded by Hub.mu except backlog
	resumeToken string
	perms       *Permissions // what a join token granted, kept across resumes
	awayTimer   *time.Timer
	awaySince   time.Time               // when it became away, for admitLocked to pick the oldest
	route       *route                  // the SFU session's way to this participant, shared across resumes
	backlog     atomic.Pointer[backlog] // set while away: what others send waits here
}

func newConn(h *Hub, ws wsConn, remote string) *conn {
	ip := remote
	if host, _, err := net.SplitHostPort(remote); err == nil {
		ip = host
	}
	id := newID()
	return &conn{
		hub:     h,
		ws:      ws,
		ip:      ip,
		logID:   id,
		log:     h.log.With("conn", id, "remote", remote),
		out:     make(chan outFrame, h.opts.SendQueue),
		done:    make(chan struct{}),
		wdone:   make(chan struct{}),
		limiter: rate.NewLimiter(h.opts.RateLimit, h.opts.RateBurst),
	}
}

func (c *conn) peer() Peer {
	p := Peer{ID: c.id, Name: c.name}
	if c.perms != nil {
		p.Viewer, p.Moderator = !c.perms.Publish, c.perms.Admin
	}
	return p
}

// send queues a message without blocking. A client whose queue is full is
// too slow to keep up and is disconnected, so it never slows its room; it
// cannot resume, since it missed a message. send reports false only when c
// no longer stands for its participant (a resume took it over): the caller
// sends again through the participant's route (sendRouted).
func (c *conn) send(msg []byte) bool {
	return c.enqueue(outFrame{data: msg})
}

// enqueue is send for a frame, which may carry several messages.
func (c *conn) enqueue(f outFrame) bool {
	if c.moved.Load() {
		return false
	}
	if b := c.backlog.Load(); b != nil {
		switch b.add(f.data, f.batch...) {
		case backlogTaken:
			return false
		case backlogFull:
			// Called with Hub.mu held, and from the SFU's send
			// callback under the SFU's locks: expire takes Hub.mu, so
			// it runs on its own goroutine (the lock order, hub.go).
			go c.hub.expire(c)
		}
		return true
	}
	// Even once the connection is finished, queued messages are kept:
	// drop moves what the writer did not send into the backlog.
	select {
	case c.out <- f:
	default:
		c.lost.Store(true)
		select {
		case <-c.done:
		default:
			c.log.Warn("send queue full; disconnecting slow client")
		}
		c.kill()
	}
	return true
}

// unsent empties the queue of a finished connection (its writer has
// returned) and returns the messages no one wrote. Hub.mu held.
func (c *conn) unsent() [][]byte {
	var msgs [][]byte
	for {
		select {
		case f := <-c.out:
			if f.data != nil {
				msgs = append(msgs, f.data)
				msgs = append(msgs, f.batch...)
			}
		default:
			return msgs
		}
	}
}

// closeWith queues a close frame after whatever is already queued.
func (c *conn) closeWith(code int, text string) {
	if c.closing.Swap(true) {
		return
	}
	select {
	case c.out <- outFrame{closeCode: code, closeText: text}:
	case <-c.done:
	default:
		c.kill()
	}
}

// endTakenOver closes a connection whose participant a resume took over:
// a close frame with CloseTakenOver at once, ahead of anything still
// queued (those messages belong to the participant, not to this socket),
// then the usual wait for the client's reply. Called without Hub.mu: the
// write may wait for the socket.
func (c *conn) endTakenOver() {
	c.closing.Store(true)
	msg := websocket.FormatCloseMessage(CloseTakenOver, "another connection resumed this participant")
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace)); err != nil {
		c.kill() // already gone
		return
	}
	c.ws.SetReadDeadline(time.Now().Add(closeGrace))
}

// kill ends the connection at once. Safe from any goroutine, any number of
// times; the read goroutine then notices and cleans up.
func (c *conn) kill() {
	c.once.Do(func() {
		close(c.done)
		c.ws.Close()
	})
}

// serve runs the connection: the writer in its own goroutine, the reader
// here, until the client goes away.
func (c *conn) serve() {
	go c.writeLoop()
	reason := c.readLoop()
	// The writer stops first, so drop can keep what it did not send.
	c.kill()
	<-c.wdone
	if !c.hub.endRelay(c, reason) {
		c.hub.drop(c, reason)
	}
}

// readLoop reads and handles frames until the connection fails, and says
// why it ended: "left", "timeout" or "closed".
func (c *conn) readLoop() string {
	o := c.hub.opts
	c.ws.SetReadLimit(hardReadLimit)
	extend := func() {
		if !c.closing.Load() {
			c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
		}
	}
	extend()
	c.ws.SetPongHandler(func(string) error { extend(); return nil })
	for {
		kind, r, err := c.ws.NextReader()
		if err != nil {
			return c.readError(err)
		}
		frame, err := io.ReadAll(io.LimitReader(r, MaxSFUSignalBytes+1))
		if err != nil {
			return c.readError(err)
		}
		extend()
		if c.closing.Load() || !c.allow() {
			continue // closing: only the client's close reply matters now
		}
		if kind != websocket.TextMessage {
			c.sendError(protoErr(CodeBadJSON, "binary frames are not part of the protocol; send JSON text"), "")
			continue
		}
		c.handle(frame)
	}
}

// sizeLimit is the largest frame a request may come in: only a signal to
// the SFU, whose SDP grows with the room, may pass MaxMessageBytes.
func sizeLimit(req request) int {
	if req.typ == TypeSignal && req.to == SFUPeerID {
		return MaxSFUSignalBytes
	}
	return MaxMessageBytes
}

// readError classifies the error that ended the read loop. A connection
// the library closed for a fault of the client's (a frame over
// hardReadLimit: 1009; a malformed frame: 1002) is marked faulted: like
// one the server closed itself, it may not resume, or a client could hold
// a room's places by breaking connections on purpose (away.go).
func (c *conn) readError(err error) string {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.faulted.Store(true) // the library has sent 1009 itself
		return "closed"
	case errors.As(err, &ce):
		// Sent by the client, or 1006 for a connection that broke
		// (the library reports EOF so).
		if ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway {
			return "left"
		}
		return "closed"
	case errors.As(err, &ne):
		if ne.Timeout() && !c.closing.Load() {
			c.log.Info("heartbeat timeout")
			return "timeout"
		}
		return "closed" // the network, or our own kill
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "closed" // the network
	}
	// Anything else is the library refusing a malformed frame, after
	// sending 1002 itself.
	c.faulted.Store(true)
	return "closed"
}

// allow applies the per-connection rate budget. Refusals are answered at
// most once a second, so a flood is not amplified; a long flood is cut off.
func (c *conn) allow() bool {
	if c.limiter.Allow() {
		c.refusals = 0
		return true
	}
	c.refusals++
	if c.refusals >= maxRefusals {
		// Anyone can flood from many connections at once: one line a
		// second for all of them, with the count of the others.
		c.hub.refusals.Warn(context.Background(), "flooding", "flooding; disconnecting",
			"conn", c.logID, "remote", c.ip)
		c.closeWith(websocket.ClosePolicyViolation, "rate limit exceeded")
		return false
	}
	if now := time.Now(); now.Sub(c.lastRateErr) >= time.Second {
		c.lastRateErr = now
		c.sendError(protoErr(CodeRateLimited, "too many messages; this one was dropped (limit %v per second)", float64(c.hub.opts.RateLimit)), "")
	}
	return false
}

// handle decodes one frame and acts on it; every refusal becomes an error
// message to this client alone. A frame over its type's size limit closes
// the connection (RFC 6455 §7.4.1: 1009, the message is too big to process).
func (c *conn) handle(frame []byte) {
	if c.removed.Load() {
		return // on its way out: kicked, its room closed, or taken over
	}
	if c.relayed(frame) {
		return // its room lives on another node, which answers
	}
	req, perr := decode(frame)
	// A frame the reader cut off does not decode, so it gets the general
	// limit and is refused.
	if len(frame) > sizeLimit(req) {
		c.sendError(protoErr(CodeTooLarge, "messages are limited to %d bytes (%d for a signal to the SFU)", MaxMessageBytes, MaxSFUSignalBytes), "")
		c.closeWith(websocket.CloseMessageTooBig, "message too big")
		return
	}
	c.hub.opts.Observer.Message(messageLabel(req.typ))
	joined := c.joined()
	if !joined && req.typ != TypeJoin && perr == nil {
		perr = protoErr(CodeNotJoined, "send join before %s", req.typ)
	}
	if perr == nil {
		switch req.typ {
		case TypeJoin:
			if joined {
				perr = protoErr(CodeAlreadyJoined, "this connection has already joined a room")
			} else {
				perr = c.hub.joinOrRelay(c, req, frame)
			}
		case TypeSignal, TypeKey:
			if req.typ == TypeSignal && req.to == SFUPeerID {
				perr = c.hub.signalSFU(c, req.data)
			} else {
				perr = c.hub.relay(c, req)
			}
		case TypeLeave:
			c.hub.leave(c, "left")
			c.closeWith(websocket.CloseNormalClosure, "left")
		case TypeStats:
			c.hub.clientStats(c, req.stats)
		case TypeModerate:
			perr = c.hub.moderate(c, req)
		case TypeMLS:
			perr = c.hub.mls(c, req)
		case TypeLinkFailed:
			if c.allowLinkFailed(time.Now()) {
				perr = c.hub.linkFailed(c, req)
			} else {
				perr = protoErr(CodeRateLimited, "one %s per %v; this one was dropped", TypeLinkFailed, linkFailedSpacing)
			}
		}
	}
	if perr != nil && req.typ == TypeJoin && !joined {
		c.hub.opts.Observer.JoinRefused(perr.Code)
	}
	if perr != nil {
		c.sendError(perr, req.typ)
	}
}

func (c *conn) joined() bool {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	return c.room != nil
}

func (c *conn) sendError(e *ProtocolError, ref string) {
	c.log.Debug("refused", "code", e.Code, "msg", e.Message, logsafe.String("ref", ref))
	c.hub.opts.Observer.Error(e.Code)
	c.send(encode(errorMsg{Type: TypeError, Code: e.Code, Message: e.Message, Ref: truncate(ref, 32)}))
}

// write sends f's messages, each under its own deadline.
func (c *conn) write(f outFrame) error {
	if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
		return err
	}
	for _, m := range f.batch {
		c.ws.SetWriteDeadline(time.Now().Add(c.hub.opts.WriteWait))
		if err := c.ws.WriteMessage(websocket.TextMessage, m); err != nil {
			return err
		}
	}
	return nil
}

// writeLoop is the only writer to the socket: queued messages, pings for the
// heartbeat, and at most one close frame, each under a write deadline.
func (c *conn) writeLoop() {
	defer close(c.wdone)
	o := c.hub.opts
	ping := time.NewTicker(o.PingInterval)
	defer ping.Stop()
	for {
		select {
		case f := <-c.out:
			c.ws.SetWriteDeadline(time.Now().Add(o.WriteWait))
			if f.closeCode != 0 {
				c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, f.closeText))
				// Wait for the client's close reply, but not for long.
				c.ws.SetReadDeadline(time.Now().Add(closeGrace))
				return
			}
			if err := c.write(f); err != nil {
				c.kill()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteWait)); err != nil {
				c.kill()
				return
			}
		case <-c.done:
			return
		}
	}
}
