package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/signaling"
)

// Host is the node's signaling hub as the cluster needs it.
type Host interface {
	// ServeRemote serves a participant relayed from another node.
	ServeRemote(hello signaling.Hello, link signaling.Link) (func(signaling.Frame), error)
	// Rooms lists the rooms this node holds.
	Rooms() []signaling.RoomInfo
	// EvictRoom ends this node's copy of a room it lost the lease of.
	EvictRoom(name string)
}

// Node is one Parley node's membership of the cluster. It implements
// signaling.Cluster.
//
// Ownership: the transport and subscriptions are set by Start and used
// read-only after; owned (the claims this node holds) belongs to the
// directory (directory.go), peers to the load watcher (load.go), links to
// the link registry (link.go), each under its own lock. No lock is held
// while calling the Host.
type Node struct {
	opts Options
	log  *slog.Logger
	host Host
	t    *transport
	js   jetstream.JetStream
	kv   atomic.Pointer[jetstream.KeyValue] // set once the directory bucket exists
	subs []*nats.Subscription
	stop context.CancelFunc
	wg   sync.WaitGroup

	bad    atomic.Uint64 // malformed messages dropped
	killed atomic.Bool   // Kill ran: Close has nothing left to do

	dir   directory
	peers peerTable
	links linkTable

	// LoadFunc, when set before Start, adds the SFU's forwarded packet
	// count to the published load.
	LoadFunc func() (forwardedPackets uint64)
}

// DefaultName is the host name made a valid node name (dots become dashes).
func DefaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "parley"
	}
	h = strings.Map(func(r rune) rune {
		if nameRE.MatchString(string(r)) {
			return r
		}
		return '-'
	}, h)
	return h[:min(len(h), 64)]
}

// New returns a node that has not started; host is the hub it serves.
func New(opts Options, host Host) (*Node, error) {
	if opts.Name == "" {
		opts.Name = DefaultName()
	}
	if !ValidName(opts.Name) {
		return nil, fmt.Errorf("cluster.node_name %q: use 1 to 64 letters, digits, - or _", opts.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{opts: opts, log: opts.Logger.With("node", opts.Name), host: host}
	if opts.Hooks != nil {
		opts.Hooks.Kill = n.kill
		opts.Hooks.Isolate = n.isolate
	}
	return n, nil
}

// SetHost sets the hub, for a hub built after the node (it needs the node
// in its options). Call before Start.
func (n *Node) SetHost(h Host) { n.host = h }

// Name is this node's name.
func (n *Node) Name() string { return n.opts.Name }

// Start connects to NATS (starting the embedded server), subscribes to this
// node's subjects and starts the directory and load loops. The directory
// becomes ready in the background: Locate fails with ErrNotReady until the
// cluster has formed.
func (n *Node) Start(ctx context.Context) error {
	t, err := connect(n.opts, n.log)
	if err != nil {
		return err
	}
	n.t = t
	if n.js, err = jetstream.New(t.nc); err != nil {
		t.close()
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	if err := n.subscribe(); err != nil {
		t.close()
		return err
	}
	ctx, n.stop = context.WithCancel(ctx)
	n.peers.init()
	n.dir.init()
	n.links.init()
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.openDirectory(ctx) }()
	go func() { defer n.wg.Done(); n.loadLoop(ctx) }()
	go func() { defer n.wg.Done(); n.renewLoop(ctx) }()
	n.log.Info("cluster node started", "listen", n.opts.Listen, "peers", len(n.opts.Peers), "external", n.opts.NATSURL != "")
	return nil
}

// subscribe listens on this node's request subjects and the load reports.
func (n *Node) subscribe() error {
	for subj, h := range map[string]nats.MsgHandler{
		subjOpen(n.opts.Name):  n.onOpen,
		subjPlace(n.opts.Name): n.onPlace,
		subjRooms:              n.onRooms,
		subjAdmin(n.opts.Name): n.onAdmin,
		subjLoad:               n.onLoad,
	} {
		s, err := n.t.nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
		}
		n.subs = append(n.subs, s)
	}
	return n.t.nc.Flush()
}

// Close leaves the cluster: this node's claims are released, so its rooms
// can be placed again at once rather than after their leases expire.
func (n *Node) Close() {
	if n.t == nil || n.killed.Load() {
		return
	}
	n.stop()
	n.wg.Wait()
	n.dir.releaseAll(n)
	n.t.close()
}

// Hooks hand a test what no caller of a real node may do. New fills in
// the Hooks it is given (Options.Hooks); a node built without them offers
// no such way in, so the production API only leaves cleanly (Close).
type Hooks struct {
	// Kill stops the node as a crash would: NATS is cut without a word
	// to the others, nothing is released. For tests of failover.
	Kill func()
	// Isolate cuts the node off the cluster and leaves it serving, as a
	// partition would (isolate).
	Isolate func()
}

// kill is Hooks.Kill.
func (n *Node) kill() {
	if n.t == nil || n.killed.Swap(true) {
		return
	}
	n.stop()
	if n.t.ns != nil {
		n.t.ns.Shutdown()
	}
	n.t.nc.Close()
	n.wg.Wait()
	n.t.close()
}

// isolate cuts this node off the cluster and leaves it running, as a
// network partition that leaves it alone would: the embedded NATS server
// stops (the node's routes and its view of the directory go with it), while
// the node keeps serving the participants connected to it, renewing in vain
// until it evicts its rooms (docs/cluster.md "Split brain"). For tests; a
// node on an external NATS cannot be isolated this way and is left as is.
func (n *Node) isolate() {
	if n.t == nil || n.t.ns == nil {
		return
	}
	n.t.ns.Shutdown()
}

// BadMessages counts malformed messages dropped on Parley subjects.
func (n *Node) BadMessages() uint64 { return n.bad.Load() }

// dropBad counts and logs a malformed message; it is never acted on.
func (n *Node) dropBad(subj string, err error) {
	n.bad.Add(1)
	n.log.Warn("malformed cluster message dropped", "subject", subj, "err", err)
}

// NATS subjects (docs/cluster.md "Subjects").
const (
	subjLoad  = "parley.load"        // every node's load report, every loadEvery
	subjRooms = "parley.admin.rooms" // scatter-gather: every node answers with its rooms
)

func subjOpen(node string) string  { return "parley.node." + node + ".open" }
func subjPlace(node string) string { return "parley.node." + node + ".place" }
func subjAdmin(node string) string { return "parley.node." + node + ".admin" }
func subjUp(session string) string { return "parley.link." + session + ".up" }
func subjDown(sess string) string  { return "parley.link." + sess + ".down" }

// RouteAddr is the embedded server's route listener (HOST:PORT), or "" with
// an external NATS.
func (n *Node) RouteAddr() string {
	if n.t == nil || n.t.ns == nil || n.t.ns.ClusterAddr() == nil {
		return ""
	}
	return n.t.ns.ClusterAddr().String()
}
