package pionpeer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
)

// Reconnecting after signaling drops (docs/protocol.md "Reconnecting"), as
// the browser client does. When the WebSocket ends without a close frame
// (sigclient.ErrConnectionLost: a network failure, or a test's Drop), or
// after `server-shutdown` with `reconnect: true`, the event loop dials
// again with back-off and joins with the last welcome's `resume` token.
//
//   - Resumed welcome: same id. Every PeerConnection (mesh links, the SFU
//     connection) is kept — media never needed the WebSocket — the signals
//     this side tried to send meanwhile go out in order, and the server
//     delivers what it held for us after the welcome.
//   - Fresh welcome (the token was unknown: the grace ran out, or the server
//     restarted): the participant rebuilds as a newcomer under its new id.
//     Every connection is closed, the queued signals are discarded (they
//     were for the old session), and it takes part in the room as the new
//     welcome describes, like Join.
//
// Either way the attempt is recorded (Reconnections). A close frame (leave,
// kick, 1008/1009) or Close ends the participant as before; so does a
// reconnection that has not succeeded within reconnectWindow.
//
// Ownership: sig, welcome, outbox and the records are guarded by Peer.sigMu;
// only the event loop replaces sig and welcome.

// Back-off and bounds of reconnection.
const (
	// reconnectFirstDelay is the wait after the first failed attempt;
	// it doubles up to reconnectMaxDelay. The first attempt is
	// immediate: a dropped socket on a healthy network comes back at
	// once.
	reconnectFirstDelay = 100 * time.Millisecond
	reconnectMaxDelay   = 2 * time.Second
	// reconnectWindow bounds the whole reconnection: past the server's
	// default resume grace (20 s), plus time for a restarted server to
	// come back, after which a fresh join is all that is left anyway.
	reconnectWindow = 30 * time.Second
	// outboxMax bounds the signals held while disconnected, as the
	// browser does (docs/protocol.md: up to 256). A newcomer's offers and
	// candidates fit; beyond it they are dropped and counted.
	outboxMax = 256
)

// Reconnection records one loss of signaling and what followed.
type Reconnection struct {
	// Lost is when the event loop saw the connection end.
	Lost time.Time
	// Back is when the new connection's welcome arrived; zero if the
	// participant gave up.
	Back time.Time
	// Attempts counts the dials made.
	Attempts int
	// Resumed says the server took the participant back under its old id;
	// false after a fresh join (or a failure).
	Resumed bool
	// OldID and ID are the participant's id before and after.
	OldID, ID string
	// Flushed counts queued signals sent after a resumed welcome;
	// Discarded those dropped (outbox full, or a fresh welcome).
	Flushed, Discarded int
	// Err says why reconnection gave up; nil on success.
	Err error
}

// outgoing is a signal waiting for signaling to come back.
type outgoing struct {
	to      string
	payload any
}

// currentSig is the signaling client in use now.
func (p *Peer) currentSig() *sigclient.Client {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	return p.sig
}

// signal sends payload to participant to (or the SFU), or, while signaling
// is down, queues it for after a resume. Holding sigMu across the send keeps
// the order of queued and fresh signals.
func (p *Peer) signal(to string, payload any) error {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	err := p.sig.Signal(to, payload)
	if err == nil || p.cfg.NoReconnect {
		return err
	}
	if len(p.outbox) >= outboxMax {
		p.outboxDropped++
		return fmt.Errorf("pionpeer: signaling down and %d signals queued: %w", outboxMax, err)
	}
	p.outbox = append(p.outbox, outgoing{to: to, payload: payload})
	return nil
}

// Reconnections lists every loss of signaling and its outcome, in order.
func (p *Peer) Reconnections() []Reconnection {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	return append([]Reconnection(nil), p.reconnections...)
}

// shouldReconnect says whether the ended client c is worth replacing.
func (p *Peer) shouldReconnect(c *sigclient.Client) bool {
	if p.cfg.NoReconnect || p.ctx.Err() != nil {
		return false
	}
	p.sigMu.Lock()
	shutdown := p.shutdownSeen
	p.sigMu.Unlock()
	return errors.Is(c.Err(), sigclient.ErrConnectionLost) || shutdown
}

// reconnect replaces the ended signaling client, resuming if the server
// still knows the participant and rebuilding as a newcomer if not. It runs
// on the event loop, which it holds up meanwhile (links keep running and
// queue their signals). It returns the new client, or nil when the
// participant should end.
func (p *Peer) reconnect() *sigclient.Client {
	old := p.currentSig()
	if !p.shouldReconnect(old) {
		return nil
	}
	_ = old.Close()
	p.sigMu.Lock()
	oldWelcome := p.welcome
	p.shutdownSeen = false
	p.sigMu.Unlock()
	rec := Reconnection{Lost: time.Now(), OldID: oldWelcome.ID}
	p.log.Info("signaling lost; reconnecting", "err", old.Err())

	opts := append(append([]sigclient.Option(nil), p.cfg.SignalOptions...), sigclient.WithResume(oldWelcome.Resume))
	delay := reconnectFirstDelay
	deadline := rec.Lost.Add(reconnectWindow)
	if d := p.cfg.ReconnectDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-p.ctx.Done():
			rec.Err = fmt.Errorf("pionpeer: reconnect: %w", context.Cause(p.ctx))
			p.record(rec)
			return nil
		}
	}
	for {
		rec.Attempts++
		c, err := sigclient.Dial(p.ctx, p.cfg.URL, p.cfg.Room, p.cfg.Name, opts...)
		if err == nil {
			p.installSig(c, rec)
			return c
		}
		p.log.Debug("reconnect failed", "attempt", rec.Attempts, "err", err)
		if p.ctx.Err() != nil || time.Now().Add(delay).After(deadline) {
			rec.Err = fmt.Errorf("pionpeer: reconnect after %d attempts: %w", rec.Attempts, err)
			p.record(rec)
			return nil
		}
		select {
		case <-time.After(delay):
		case <-p.ctx.Done():
			rec.Err = fmt.Errorf("pionpeer: reconnect: %w", context.Cause(p.ctx))
			p.record(rec)
			return nil
		}
		delay = min(2*delay, reconnectMaxDelay)
	}
}

func (p *Peer) record(rec Reconnection) {
	p.sigMu.Lock()
	p.reconnections = append(p.reconnections, rec)
	p.sigMu.Unlock()
	if rec.Err != nil {
		p.log.Warn("giving up on signaling", "err", rec.Err)
	}
}

// installSig makes c, just joined, the signaling client. After a resumed
// welcome it flushes the queued signals through c; after a fresh one it
// closes every connection and takes part in the room as a newcomer.
func (p *Peer) installSig(c *sigclient.Client, rec Reconnection) {
	w := c.Welcome()
	rec.Back, rec.ID = time.Now(), w.ID
	rec.Resumed = w.Resumed && w.ID == rec.OldID
	if !rec.Resumed {
		// Close first, while the old client is still installed: what
		// the closing links send is queued, then discarded below,
		// rather than reaching strangers under the new id.
		p.closeAll()
	}
	p.sigMu.Lock()
	p.sig, p.welcome = c, w
	queued := p.outbox
	p.outbox = nil
	rec.Discarded = p.outboxDropped
	p.outboxDropped = 0
	if rec.Resumed {
		for _, o := range queued {
			if err := c.Signal(o.to, o.payload); err != nil {
				rec.Discarded++
				continue
			}
			rec.Flushed++
		}
	} else {
		rec.Discarded += len(queued)
	}
	p.reconnections = append(p.reconnections, rec)
	p.sigMu.Unlock()
	p.log.Info("signaling back", "resumed", rec.Resumed, "id", w.ID, "attempts", rec.Attempts,
		"after", rec.Back.Sub(rec.Lost), "flushed", rec.Flushed, "discarded", rec.Discarded)
	if rec.Resumed {
		return
	}
	p.mu.Lock()
	p.members = map[string]*member{}
	for _, peer := range w.Peers {
		p.members[peer.ID] = &member{name: peer.Name}
	}
	p.mode, p.policy = w.Mode, w.Policy
	if p.mode == "" {
		p.mode = modeMesh
	}
	p.switchedAt, p.speaker = time.Time{}, ""
	p.mu.Unlock()
	p.sfuPublish.Store(false)
	p.start(w)
}
