package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parleyhq/parley/signaling"
)

// Links (docs/cluster.md "Relaying"). A participant whose room lives on
// another node has one link: its entry node subscribes to
// parley.link.<session>.down, asks the room's node on
// parley.node.<node>.open to take the participant, and that node answers
// once it listens on parley.link.<session>.up. Each direction is one
// subject with one publisher and one subscriber, which NATS delivers in
// order. Frames are WebSocket frames (frame.go), so the room's node runs
// the participant exactly as one of its own.

// link is one end of a participant's link.
type link struct {
	n       *Node
	peer    string // the node at the other end
	out     string // subject this end publishes to
	in      string // subject this end listens on
	created time.Time

	mu     sync.Mutex // guards the fields below
	sub    *nats.Subscription
	closed bool
}

// Send implements signaling.Link.
func (l *link) Send(f signaling.Frame) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrLinkClosed
	}
	if err := l.n.t.nc.Publish(l.out, encodeFrame(f)); err != nil {
		return fmt.Errorf("cluster: link to %s: %w", l.peer, err)
	}
	return nil
}

// Close implements signaling.Link.
func (l *link) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	sub := l.sub
	l.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
	l.n.links.remove(l)
}

// listen subscribes l to its incoming subject, passing frames to recv.
func (l *link) listen(recv func(signaling.Frame)) error {
	sub, err := l.n.t.nc.Subscribe(l.in, func(m *nats.Msg) {
		f, err := decodeFrame(m.Data)
		if err != nil {
			l.n.dropBad(m.Subject, err)
			return
		}
		recv(f)
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", l.in, err)
	}
	l.mu.Lock()
	l.sub = sub
	closed := l.closed
	l.mu.Unlock()
	if closed {
		sub.Unsubscribe()
	}
	return nil
}

// linkTable is every open link, for ending those to a dead node.
type linkTable struct {
	mu  sync.Mutex // guards all
	all map[*link]struct{}
}

func (t *linkTable) init() { t.all = make(map[*link]struct{}) }

func (t *linkTable) add(l *link) {
	t.mu.Lock()
	t.all[l] = struct{}{}
	t.mu.Unlock()
}

func (t *linkTable) remove(l *link) {
	t.mu.Lock()
	delete(t.all, l)
	t.mu.Unlock()
}

// peers lists the nodes at the other end of some link.
func (t *linkTable) peers() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for l := range t.all {
		if !seen[l.peer] {
			seen[l.peer] = true
			out = append(out, l.peer)
		}
	}
	return out
}

// endAll ends the links to node that are older than deadAfter (a node
// silent for that long has died): each gets Gone on its own subject, so it
// reaches the hub in order, after whatever came before.
func (t *linkTable) endAll(n *Node, node string) {
	t.mu.Lock()
	var ends []*link
	for l := range t.all {
		if l.peer == node && time.Since(l.created) > deadAfter {
			ends = append(ends, l)
		}
	}
	t.mu.Unlock()
	for _, l := range ends {
		n.log.Info("ending link to silent node", "peer", node)
		n.t.nc.Publish(l.in, encodeFrame(signaling.Frame{Kind: signaling.FrameGone}))
		t.remove(l)
	}
}

var sessionRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Dial implements signaling.Cluster: a link to node for one participant.
func (n *Node) Dial(ctx context.Context, node string, hello signaling.Hello, recv func(signaling.Frame)) (signaling.Link, error) {
	hello.Entry = n.opts.Name
	if !sessionRE.MatchString(hello.Session) {
		return nil, fmt.Errorf("cluster: dial %s: bad session id", node)
	}
	l := &link{n: n, peer: node, out: subjUp(hello.Session), in: subjDown(hello.Session), created: time.Now()}
	if err := l.listen(recv); err != nil {
		return nil, err
	}
	req, _ := json.Marshal(hello) // strings only: cannot fail
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg, err := n.t.nc.RequestWithContext(rctx, subjOpen(node), req)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("cluster: open link to %s: %w", node, err)
	}
	if string(msg.Data) != "ok" {
		l.Close()
		return nil, fmt.Errorf("%w: %s: %s", ErrNodeRefused, node, truncate(string(msg.Data)))
	}
	n.links.add(l)
	return l, nil
}

// onOpen takes a participant relayed from another node.
func (n *Node) onOpen(m *nats.Msg) {
	var h signaling.Hello
	if err := json.Unmarshal(m.Data, &h); err != nil || !sessionRE.MatchString(h.Session) || !ValidName(h.Entry) {
		n.dropBad(m.Subject, fmt.Errorf("%w: open request", ErrBadFrame))
		return
	}
	l := &link{n: n, peer: h.Entry, out: subjDown(h.Session), in: subjUp(h.Session), created: time.Now()}
	recv, err := n.host.ServeRemote(h, l)
	if err != nil {
		m.Respond([]byte(err.Error()))
		return
	}
	if err := l.listen(recv); err != nil {
		recv(signaling.Frame{Kind: signaling.FrameGone})
		m.Respond([]byte("cannot listen"))
		return
	}
	n.links.add(l)
	// The subscription must reach the entry node's server before the
	// entry sends: a flush makes this server have it, and routes pass it
	// on before the reply below.
	n.t.nc.Flush()
	m.Respond([]byte("ok"))
}
