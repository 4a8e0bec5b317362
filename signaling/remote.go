package signaling

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Rooms on other nodes (docs/cluster.md).
//
// With a Cluster in Options, a room lives on exactly one node: its members,
// its mode and its SFU sessions are that node's Hub's, as on a single node.
// A browser's WebSocket stays on the node it reached (the entry node). When
// its `join` names a room that lives elsewhere, the entry node becomes a
// pipe: every frame the browser sends goes, unread, over a Link to the
// room's node, where Hub.ServeRemote serves it as an ordinary connection
// (remote_ws.go); every frame that node writes comes back and is written to
// the browser. Limits, ordering, heartbeats, resume tokens and SFU
// signalling are therefore the room node's own code, unchanged: a resume
// token works through any entry node because it is checked where the room
// lives.
//
// Ownership: a conn's relay is set once, by its read goroutine, before it
// forwards anything; the relay's link is used by that goroutine (up) and the
// link's delivery goroutine (down), never under Hub.mu.

// Cluster is where rooms live when several nodes serve one service. It is
// implemented by internal/cluster; a Hub without one keeps every room.
type Cluster interface {
	// Locate returns the node room lives on, placing it first when no node
	// holds it. local means this node: the caller serves the room itself.
	Locate(ctx context.Context, room string) (node string, local bool, err error)
	// Dial opens a link to node for one participant. recv gets node's
	// frames in order, from one goroutine at a time, and must not block.
	Dial(ctx context.Context, node string, hello Hello, recv func(Frame)) (Link, error)
}

// Hello introduces a relayed participant to the room's node.
type Hello struct {
	Session    string `json:"session"`    // the link's random id
	Entry      string `json:"entry"`      // the node holding the browser's WebSocket
	RemoteAddr string `json:"remoteAddr"` // the browser's address, for per-IP limits and logs
}

// Link carries one participant's frames between two nodes, in order.
type Link interface {
	// Send passes f on; it must not block for long.
	Send(f Frame) error
	// Close stops the link; frames sent after are dropped.
	Close()
}

// FrameKind says what a Frame stands for on the WebSocket it relays.
type FrameKind uint8

// Frame kinds. Gone and Lost have no WebSocket equivalent: the relaying
// side's connection ended without a close frame (Gone), or after a message
// for it was discarded (Lost: it may not resume, as on one node).
const (
	FrameText FrameKind = iota + 1
	FrameBinary
	FramePing
	FramePong
	FrameClose
	FrameGone
	FrameLost
)

// Frame is one WebSocket frame (or end of one) travelling between nodes.
type Frame struct {
	Kind FrameKind
	Data []byte // a message, or a close frame's reason
	Code int    // a close frame's code
}

// relay is the entry side of a participant whose room lives elsewhere.
type relay struct {
	c     *conn
	node  string
	link  Link
	quiet *time.Timer // fires when the room's node has said nothing for PongWait
}

// joinOrRelay admits c into the room req names, here or, when the room
// lives on another node, through a relay to it. frame is the join as the
// client sent it, passed on unchanged.
//
// A room's node that cannot be reached may have just died: until the other
// nodes take it for dead (internal/cluster: 5 s without a load report) the
// directory still names it. The join is then tried again, every
// relayRetry, within locateTimeout: once the dead node is given up, Locate
// waits for its lease to expire and places the room on a live node. A
// browser reconnecting at once after its node died is thus taken in, as a
// relayed one whose entry node noticed later is, instead of being refused
// and left in the lobby.
func (h *Hub) joinOrRelay(c *conn, req request, frame []byte) *ProtocolError {
	cl := h.opts.Cluster
	if cl == nil {
		return h.join(c, req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), locateTimeout)
	defer cancel()
	for {
		node, local, err := cl.Locate(ctx, req.room)
		if err != nil {
			c.log.Warn("cluster cannot place room", "room", req.room, "err", err)
			return protoErr(CodeInternal, "the service cannot place this room now; try again")
		}
		if local {
			return h.join(c, req)
		}
		if c.remote {
			// Relayed here, but the room has moved on since the entry node
			// looked: the client reconnects and its entry node looks again.
			c.closeWith(websocket.CloseServiceRestart, "room moved to another node")
			return protoErr(CodeInternal, "this room has moved to another node; reconnecting")
		}
		perr, unreachable := h.startRelay(ctx, c, node, frame)
		if !unreachable {
			return perr
		}
		select {
		case <-ctx.Done():
			return perr
		case <-time.After(relayRetry):
		}
	}
}

// locateTimeout bounds finding or placing a room, which may wait for a dead
// owner's lease to expire (internal/cluster: at most 10 s).
const locateTimeout = 15 * time.Second

// relayRetry is the wait before looking for a room again after its node
// could not be reached: a few looks per second while the cluster gives a
// dead node up.
const relayRetry = 250 * time.Millisecond

// startRelay links c to node and sends it the join. unreachable says the
// link could not be opened (the error is then what the client gets if no
// later attempt succeeds).
func (h *Hub) startRelay(ctx context.Context, c *conn, node string, join []byte) (perr *ProtocolError, unreachable bool) {
	rl := &relay{c: c, node: node}
	// Frames wait until rl is complete: the room's node may ping before
	// Dial has returned.
	ready := make(chan struct{})
	recv := func(f Frame) { <-ready; rl.down(f) }
	hello := Hello{Session: newResumeToken(), RemoteAddr: c.ws.RemoteAddr().String()}
	link, err := h.opts.Cluster.Dial(ctx, node, hello, recv)
	if err != nil {
		close(ready) // nothing more arrives: the link is closed
		c.log.Warn("cannot reach room node", "node", node, "err", err)
		return protoErr(CodeInternal, "the room's node cannot be reached; try again"), true
	}
	rl.link = link
	rl.quiet = time.AfterFunc(h.opts.PongWait, rl.silent)
	c.relay.Store(rl)
	close(ready)
	c.log.Info("relaying to room node", "node", node)
	if err := link.Send(Frame{Kind: FrameText, Data: join}); err != nil {
		rl.silent()
	}
	return nil, false
}

// relayed passes a client frame to the room's node when c is relayed, and
// says whether it did.
func (c *conn) relayed(frame []byte) bool {
	rl := c.relay.Load()
	if rl == nil {
		return false
	}
	if err := rl.link.Send(Frame{Kind: FrameText, Data: frame}); err != nil {
		c.log.Warn("relay to room node failed", "node", rl.node, "err", err)
		rl.silent()
	}
	return true
}

// down handles a frame from the room's node, on the link's goroutine.
func (rl *relay) down(f Frame) {
	if rl.link == nil {
		return // Dial failed after a frame came through
	}
	rl.quiet.Reset(rl.c.hub.opts.PongWait)
	switch f.Kind {
	case FrameText:
		rl.c.send(f.Data)
	case FramePing:
		rl.link.Send(Frame{Kind: FramePong})
	case FrameClose:
		rl.c.closeWith(f.Code, string(f.Data))
	case FrameGone, FrameLost:
		rl.c.kill()
	}
}

// silent ends a browser connection whose room node stopped answering (it
// died, or the network between the nodes did): the browser reconnects, and
// its entry node places the room again.
func (rl *relay) silent() {
	rl.c.log.Warn("room node silent; closing so the client reconnects", "node", rl.node)
	rl.c.kill()
}

// endRelay finishes a relayed connection whose socket is gone and says
// whether c was one: the room's node hears how it ended, as its own
// connection would have (a goodbye, or a drop it may resume from).
func (h *Hub) endRelay(c *conn, reason string) bool {
	rl := c.relay.Load()
	if rl == nil {
		return false
	}
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	rl.quiet.Stop()
	switch {
	case c.lost.Load():
		rl.link.Send(Frame{Kind: FrameLost})
	case reason == "left" && !c.closing.Load():
		rl.link.Send(Frame{Kind: FrameClose, Code: websocket.CloseNormalClosure, Data: []byte("left")})
	default:
		rl.link.Send(Frame{Kind: FrameGone})
	}
	rl.link.Close()
	c.log.Info("relay ended", "node", rl.node, "reason", reason)
	return true
}

// ServeRemote serves a participant relayed from another node as a
// connection of this node, and returns where the link delivers that
// participant's frames. It returns at once; the connection runs until the
// link or the participant ends.
func (h *Hub) ServeRemote(hello Hello, link Link) (recv func(Frame), err error) {
	lw := newLinkWS(link, hello.RemoteAddr)
	c := newConn(h, lw, hello.RemoteAddr)
	c.remote = true
	lw.onLost = func() { c.lost.Store(true) }
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil, fmt.Errorf("signaling: serve relayed participant: %w", ErrClosing)
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	c.log.Debug("relayed participant", "entry", hello.Entry)
	go func() {
		defer h.wg.Done()
		c.serve()
	}()
	return lw.deliver, nil
}

// relayState is a conn's relay, if it has one (conn.relay).
type relayState = atomic.Pointer[relay]

// EvictRoom ends this node's copy of a room another node now holds (its
// lease was lost: docs/cluster.md "Split brain"). Everyone in it is told to
// reconnect, as at a restart, and does so through the room's new node.
func (h *Hub) EvictRoom(name string) {
	notice := encode(shutdownMsg{Type: TypeServerShutdown, Message: "this room moved to another server; reconnecting", Reconnect: true})
	if n, ok := h.emptyRoom(name, notice, "moved", websocket.CloseServiceRestart, "room moved"); ok {
		h.log.Warn("room evicted: another node holds its lease", "room", name, "participants", n)
	}
}
