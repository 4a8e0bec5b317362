package signaling

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Resuming a participant (docs/protocol.md "Reconnecting").
//
// A WebSocket that fails without a `leave` (a network change, a laptop that
// slept, a proxy that timed out) does not end the participant. It becomes
// *away*: it stays in its room under the same id for Options.ResumeGrace,
// the others get `peer-away` (and keep its tile, with a badge), and what
// they send it meanwhile waits in a bounded backlog. A new connection whose
// `join` carries the `resume` token of the last `welcome` takes the
// participant over: same id, same SFU session, the backlog delivered after
// its `welcome` (`resumed: true`), and the others get `peer-back`. Media
// between browsers never depended on the WebSocket, so a short outage costs
// nothing but the signaling that waited.
//
// If the grace ends first, the participant leaves as before (`peer-left`,
// reason "timeout"). A new connection may also take over a participant
// whose old connection the server still thinks is alive (the laptop woke
// before the heartbeat noticed): the old one is closed with
// CloseTakenOver, without a `peer-left`.
//
// Ownership: resumable, the away tally (away.go), each conn's resumeToken,
// awayTimer, awaySince and route are guarded by Hub.mu; a backlog has its
// own lock, because conn.send runs both with and without Hub.mu held.

// Bounds of what waits for an away participant. Past them it leaves at once
// (peer-left "timeout"): signaling it missed cannot be rebuilt, and a fresh
// join is the clean way back.
const (
	maxBacklog = 256
	// maxBacklogBytes leaves room for one SFU offer as large as the
	// largest answer a client may send (the SFU offers again only after an
	// answer, so one is the most that waits), plus the chatter around it.
	maxBacklogBytes = MaxSFUSignalBytes + 256<<10
)

// backlog holds the messages sent to an away participant, in order.
type backlog struct {
	mu       sync.Mutex
	msgs     [][]byte
	bytes    int
	overflow bool // something was not kept: the participant cannot resume
	taken    bool // a resume took the messages: later ones go to its connection
}

// backlogResult is what add did with a message.
type backlogResult int

const (
	backlogKept  backlogResult = iota
	backlogFull                // not kept, and the participant must leave
	backlogTaken               // not kept: send it to the resumed connection
)

// add keeps msg and more, in order, unless the backlog is full or taken.
func (b *backlog) add(msg []byte, more ...[]byte) backlogResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.taken {
		return backlogTaken
	}
	if !b.keep(msg) {
		return backlogFull
	}
	for _, m := range more {
		if !b.keep(m) {
			return backlogFull
		}
	}
	return backlogKept
}

// keep appends m unless that would pass the bounds. b.mu held.
func (b *backlog) keep(m []byte) bool {
	if b.overflow || len(b.msgs) >= maxBacklog || b.bytes+len(m) > maxBacklogBytes {
		b.overflow = true
		return false
	}
	b.msgs = append(b.msgs, m)
	b.bytes += len(m)
	return true
}

// take returns the kept messages, and whether any was refused, and closes
// the backlog: add answers backlogTaken from then on.
func (b *backlog) take() (msgs [][]byte, overflow bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.taken = true
	return b.msgs, b.overflow
}

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newResumeToken returns 128 random bits, base32: a bearer secret that lets
// its holder become the participant again, so it is never logged.
func newResumeToken() string {
	var b [16]byte
	rand.Read(b[:])
	return tokenEncoding.EncodeToString(b[:])
}

// issueTokenLocked gives c a fresh resume token (each welcome carries a new
// one, so a token works once). Hub.mu held.
func (h *Hub) issueTokenLocked(c *conn) string {
	if c.resumeToken != "" {
		delete(h.resumable, c.resumeToken)
	}
	c.resumeToken = newResumeToken()
	h.resumable[c.resumeToken] = c
	return c.resumeToken
}

// forgetLocked ends c's resumability: token, timer, backlog. Hub.mu held.
func (h *Hub) forgetLocked(c *conn) {
	if c.resumeToken != "" {
		delete(h.resumable, c.resumeToken)
		c.resumeToken = ""
	}
	if c.awayTimer != nil {
		c.awayTimer.Stop()
		c.awayTimer = nil
	}
	if c.backlog.Swap(nil) != nil {
		h.unmarkAwayLocked(c)
	}
}

// drop is called when c's socket is gone. A participant that did not say
// `leave` becomes away for the grace period; otherwise it leaves.
func (h *Hub) drop(c *conn, reason string) {
	h.mu.Lock()
	delete(h.conns, c)
	// The client said goodbye (`leave`, or a close frame 1000/1001: a
	// closed tab), or the server (or the WebSocket library) closed it for
	// a fault, or a message for it was discarded, or there are too many
	// away participants already (away.go): it is gone.
	gone := c.room == nil || h.closing || h.opts.ResumeGrace < 0 || reason == "left" ||
		c.closing.Load() || c.faulted.Load() || c.lost.Load() || !h.roomForAwayLocked(c)
	b := &backlog{}
	if !gone {
		// What the writer had not sent yet waits first: it was sent before
		// anything that reaches the backlog from now on.
		if unsent := c.unsent(); len(unsent) > 0 && b.add(unsent[0], unsent[1:]...) != backlogKept {
			gone, reason = true, "timeout"
		}
	}
	if gone {
		sess := h.leaveLocked(c, reason)
		h.mu.Unlock()
		detachSFU(sess)
		return
	}
	c.backlog.Store(b)
	h.markAwayLocked(c)
	c.awayTimer = time.AfterFunc(h.opts.ResumeGrace, func() { h.expire(c) })
	c.room.broadcast(encode(peerMsg{Type: TypePeerAway, Peer: c.peer(), Reason: reason}), c)
	c.log.Info("away; waiting for it to resume", "room", c.room.name, "peer", c.id, "reason", reason, "grace", h.opts.ResumeGrace)
	h.mu.Unlock()
}

// expire ends an away participant whose grace ran out or whose backlog
// overflowed.
func (h *Hub) expire(c *conn) {
	h.mu.Lock()
	if c.room == nil || c.backlog.Load() == nil { // resumed, left or kicked meanwhile
		h.mu.Unlock()
		return
	}
	sess := h.leaveLocked(c, "timeout")
	h.mu.Unlock()
	detachSFU(sess)
}

// resume lets c take over the participant req.resume names. It reports
// false, with nothing changed, when the token is unknown (expired, used, or
// from before a server restart): the caller then joins c afresh.
func (h *Hub) resume(c *conn, req request) (bool, *ProtocolError) {
	h.mu.Lock()
	old := h.resumable[req.resume]
	if old == nil || old.room == nil || old.room.name != req.room || h.closing {
		h.mu.Unlock()
		return false, nil
	}
	id := old.id
	h.mu.Unlock()
	var ice []ICEServer
	if h.opts.ICEServers != nil {
		ice = h.opts.ICEServers(id) // minted outside the lock: HMAC per join
	}

	h.mu.Lock()
	if h.resumable[req.resume] != old || old.room == nil {
		h.mu.Unlock()
		return false, nil // taken over or gone meanwhile
	}
	r := old.room
	i := slices.Index(r.members, old)
	if i < 0 {
		h.mu.Unlock()
		return false, nil
	}
	pending := old.backlog.Load()
	// c becomes the participant. The route moves before the backlog is
	// taken: the SFU sends without Hub.mu, and a message that finds the
	// backlog taken (or old moved) is sent again along the route, to c.
	c.id, c.name, c.room, c.sfu, c.route, c.perms = old.id, old.name, r, old.sfu, old.route, old.perms
	r.members[i] = c
	h.peers[c.id] = c
	c.route.Store(c)
	old.moved.Store(true)
	old.removed.Store(true)
	var waiting [][]byte
	var overflow bool
	if pending != nil {
		waiting, overflow = pending.take()
	}
	h.forgetLocked(old)
	old.room, old.sfu = nil, nil
	// If the server still thought it alive, it is told why it ends; its
	// serve then finds no room. On a goroutine: the write may wait.
	go old.endTakenOver()
	if overflow {
		// A message it was owed is gone: it cannot go on where it was.
		sess := h.leaveLocked(c, "timeout") // c itself goes on, to join afresh
		h.mu.Unlock()
		detachSFU(sess)
		return false, nil
	}
	// One queued frame: the backlog may be as long as the whole queue.
	c.enqueue(outFrame{data: encode(h.welcomeLocked(c, r, ice, true)), batch: waiting})
	r.broadcast(encode(peerMsg{Type: TypePeerBack, Peer: c.peer()}), c)
	c.log.Info("resumed", "room", r.name, "peer", c.id, "queued", len(waiting))
	h.mu.Unlock()
	return true, nil
}

// route is where an SFU session's messages go: the participant's current
// connection, which a resume replaces.
type route = atomic.Pointer[conn]

// sendRouted sends an SFU payload to whichever connection holds the
// participant now. It runs without Hub.mu: when a resume moves the
// participant meanwhile, the old connection refuses and the message goes
// along the route again.
func sendRouted(rt *route, d json.RawMessage) {
	msg := encode(relayMsg{Type: TypeSignal, From: SFUPeerID, Data: d})
	for c := rt.Load(); c != nil; {
		if c.send(msg) {
			return
		}
		next := rt.Load()
		if next == c {
			return // left: nobody to send to
		}
		c = next
	}
}
