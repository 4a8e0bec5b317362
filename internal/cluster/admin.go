package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/signaling"
)

// Administering the whole cluster from any node (docs/cluster.md
// "Operating"). Admin implements internal/admin's Hub over every node: the
// room list gathers each node's rooms (parley.admin.rooms, answered by all),
// an action on a room goes to the node holding it
// (parley.node.<node>.admin), a kick and a default policy go to every node.

// gatherWait is how long a cluster-wide question waits for answers: every
// live node answers within milliseconds on a LAN; a dead one never does.
const gatherWait = 500 * time.Millisecond

// adminRequest is one admin action sent to a node.
type adminRequest struct {
	Op     string `json:"op"` // room, close, policy, e2ee, kick, default-policy
	Room   string `json:"room,omitempty"`
	Peer   string `json:"peer,omitempty"`
	Policy string `json:"policy,omitempty"`
	E2EE   bool   `json:"e2ee,omitempty"` // op e2ee: whether the room must encrypt
}

// adminReply is a node's answer: its rooms, or an error code.
type adminReply struct {
	Node  string               `json:"node"`
	Rooms []signaling.RoomInfo `json:"rooms,omitempty"`
	Error string               `json:"error,omitempty"` // no-room, no-peer, or a message
}

// Admin is internal/admin's Hub for the whole cluster, through node n with
// local hub h.
type Admin struct {
	n *Node
	h AdminHost
}

// AdminHost is what a node's hub offers admins: the admin API's own Hub,
// so the cluster-wide view and a single node's can never drift apart.
type AdminHost = admin.Hub

// NewAdmin returns the cluster-wide admin view of node n over local hub h.
func NewAdmin(n *Node, h AdminHost) *Admin { return &Admin{n: n, h: h} }

// Rooms lists every room of the cluster, each with its node.
func (a *Admin) Rooms() []signaling.RoomInfo {
	out := a.local()
	inbox := nats.NewInbox()
	sub, err := a.n.t.nc.SubscribeSync(inbox)
	if err != nil {
		return out
	}
	defer sub.Unsubscribe()
	if err := a.n.t.nc.PublishRequest(subjRooms, inbox, nil); err != nil {
		return out
	}
	deadline := time.Now().Add(gatherWait)
	for want := a.n.Members() - 1; want > 0; {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		var rep adminReply
		if err := json.Unmarshal(m.Data, &rep); err != nil {
			a.n.dropBad(m.Subject, fmt.Errorf("%w: rooms answer", ErrBadFrame))
			continue
		}
		if rep.Node == a.n.opts.Name {
			continue // our own answer
		}
		out = append(out, rep.Rooms...)
		want--
	}
	slices.SortFunc(out, func(x, y signaling.RoomInfo) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// local is this node's rooms, marked with its name.
func (a *Admin) local() []signaling.RoomInfo {
	rooms := a.h.Rooms()
	for i := range rooms {
		rooms[i].Node = a.n.opts.Name
	}
	return rooms
}

// Room asks the room's node about it.
func (a *Admin) Room(name string) (signaling.RoomInfo, error) {
	rep, err := a.onOwner(name, adminRequest{Op: "room", Room: name})
	if err != nil {
		return signaling.RoomInfo{}, err
	}
	if len(rep.Rooms) != 1 {
		return signaling.RoomInfo{}, fmt.Errorf("room %q: %w", name, signaling.ErrNoRoom)
	}
	return rep.Rooms[0], nil
}

// DefaultPolicy is this node's; SetDefaultPolicy sets every node's.
func (a *Admin) DefaultPolicy() signaling.Policy { return a.h.DefaultPolicy() }

// SetDefaultPolicy sets the policy of rooms without their own on every
// live node.
func (a *Admin) SetDefaultPolicy(p signaling.Policy) {
	a.h.SetDefaultPolicy(p)
	a.everyOther(adminRequest{Op: "default-policy", Policy: p.String()})
}

// SetPolicy sets a room's policy on its node.
func (a *Admin) SetPolicy(room string, p signaling.Policy) error {
	_, err := a.onOwner(room, adminRequest{Op: "policy", Room: room, Policy: p.String()})
	return err
}

// SetE2EE requires or waives end-to-end encryption in a room, on its node.
func (a *Admin) SetE2EE(room string, encrypted bool) error {
	_, err := a.onOwner(room, adminRequest{Op: "e2ee", Room: room, E2EE: encrypted})
	return err
}

// CloseRoom closes a room on its node.
func (a *Admin) CloseRoom(name string) error {
	_, err := a.onOwner(name, adminRequest{Op: "close", Room: name})
	return err
}

// Kick removes a participant from whichever node holds it.
func (a *Admin) Kick(peerID string) error {
	if err := a.h.Kick(peerID); !errors.Is(err, signaling.ErrNoPeer) {
		return err
	}
	for _, rep := range a.everyOther(adminRequest{Op: "kick", Peer: peerID}) {
		if rep.Error == "" {
			return nil
		}
	}
	return fmt.Errorf("participant %q: %w", peerID, signaling.ErrNoPeer)
}

// onOwner performs req on the node that holds room (this one included).
func (a *Admin) onOwner(room string, req adminRequest) (adminReply, error) {
	owner := a.n.opts.Name
	if kv, err := a.n.bucket(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		e, err := kv.Get(ctx, room)
		cancel()
		if err == nil {
			owner = string(e.Value())
		}
	}
	var rep adminReply
	if owner == a.n.opts.Name {
		rep = a.n.perform(a.h, req)
	} else {
		b, _ := json.Marshal(req)
		m, err := a.n.t.nc.Request(subjAdmin(owner), b, requestTimeout)
		if err != nil {
			return rep, fmt.Errorf("cluster: node %s holding room %s: %w", owner, room, err)
		}
		if err := json.Unmarshal(m.Data, &rep); err != nil {
			return rep, fmt.Errorf("cluster: node %s: %w", owner, ErrBadFrame)
		}
	}
	return rep, replyErr(rep, room)
}

// everyOther sends req to every other live node and returns their answers.
func (a *Admin) everyOther(req adminRequest) []adminReply {
	b, _ := json.Marshal(req)
	var out []adminReply
	for _, ni := range a.n.Nodes() {
		if !ni.Alive || ni.Node == a.n.opts.Name {
			continue
		}
		m, err := a.n.t.nc.Request(subjAdmin(ni.Node), b, requestTimeout)
		if err != nil {
			continue
		}
		var rep adminReply
		if json.Unmarshal(m.Data, &rep) == nil {
			out = append(out, rep)
		}
	}
	return out
}

// replyErr turns a node's error code back into the hub's sentinel.
func replyErr(rep adminReply, what string) error {
	switch rep.Error {
	case "":
		return nil
	case "no-room":
		return fmt.Errorf("room %q: %w", what, signaling.ErrNoRoom)
	case "no-peer":
		return fmt.Errorf("participant %q: %w", what, signaling.ErrNoPeer)
	}
	return errors.New(rep.Error)
}

// onRooms answers a cluster-wide room list with this node's rooms.
func (n *Node) onRooms(m *nats.Msg) {
	a, ok := n.host.(AdminHost)
	if !ok || m.Reply == "" {
		return
	}
	b, _ := json.Marshal(adminReply{Node: n.opts.Name, Rooms: NewAdmin(n, a).local()})
	m.Respond(b)
}

// onAdmin performs an admin action sent to this node.
func (n *Node) onAdmin(m *nats.Msg) {
	var req adminRequest
	a, ok := n.host.(AdminHost)
	if err := json.Unmarshal(m.Data, &req); err != nil || !ok {
		n.dropBad(m.Subject, fmt.Errorf("%w: admin request", ErrBadFrame))
		return
	}
	b, _ := json.Marshal(n.perform(a, req))
	m.Respond(b)
}

// perform runs one admin action on this node's hub.
func (n *Node) perform(h AdminHost, req adminRequest) adminReply {
	var err error
	var rep adminReply
	switch req.Op {
	case "room":
		var ri signaling.RoomInfo
		if ri, err = h.Room(req.Room); err == nil {
			ri.Node = n.opts.Name
			rep.Rooms = []signaling.RoomInfo{ri}
		}
	case "close":
		err = h.CloseRoom(req.Room)
	case "kick":
		err = h.Kick(req.Peer)
	case "e2ee":
		err = h.SetE2EE(req.Room, req.E2EE)
	case "policy", "default-policy":
		var p signaling.Policy
		if p, err = signaling.ParsePolicy(req.Policy); err == nil {
			if req.Op == "policy" {
				err = h.SetPolicy(req.Room, p)
			} else {
				h.SetDefaultPolicy(p)
			}
		}
	default:
		err = fmt.Errorf("unknown admin op %q", truncate(req.Op))
	}
	switch {
	case errors.Is(err, signaling.ErrNoRoom):
		rep.Error = "no-room"
	case errors.Is(err, signaling.ErrNoPeer):
		rep.Error = "no-peer"
	case err != nil:
		rep.Error = err.Error()
	}
	return rep
}
