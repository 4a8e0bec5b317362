// Package cluster makes several Parley nodes one service over NATS
// (docs/cluster.md): it places each room on one node through a JetStream
// key-value directory with leases, relays a participant's signaling from the
// node holding its WebSocket to the room's node, publishes each node's load,
// and watches which nodes are alive. By default NATS runs embedded in the
// process (github.com/nats-io/nats-server/v2) with an in-process client
// connection and route listeners to the other nodes; with NATSURL it uses an
// operator's NATS cluster instead.
//
// A node without any cluster setting does not use this package at all:
// no NATS, no port, behaviour exactly as before.
package cluster

import (
	"crypto/tls"
	"log/slog"
	"regexp"
	"time"
)

// Options configure a Node.
type Options struct {
	// Name is this node's name: unique in the cluster, a NATS subject
	// token ([A-Za-z0-9_-]).
	Name string
	// Listen is the embedded NATS server's route listener, HOST:PORT.
	Listen string
	// Peers are the other nodes' route URLs (nats://HOST:PORT).
	Peers []string
	// NATSURL, when set, is an external NATS cluster to use instead of
	// the embedded server; Listen and Peers are then ignored.
	NATSURL string
	// Secret authenticates routes between embedded servers (and is the
	// password for an external NATS server, user "parley"); empty: routes
	// are not authenticated.
	Secret string
	// TLS, when set, secures routes (both directions: it must hold a
	// certificate and verify the peers'), or the connection to NATSURL.
	TLS *tls.Config
	// Logger receives the node's and the embedded NATS server's logs.
	Logger *slog.Logger
	// Hooks, for tests only, is filled in by New (node.go).
	Hooks *Hooks
}

// Timing of leases, load reports and liveness. A room's lease is what keeps
// two nodes from holding it: its owner renews it well within its lifetime,
// and a dead owner's rooms are free again at most leaseTTL later.
const (
	// leaseTTL is how long a room claim lives unless renewed: at most 10 s
	// between a node's death and its rooms' move, so that an SFU room is
	// back within the 15 s docs/cluster.md promises.
	leaseTTL = 8 * time.Second
	// renewEvery renews each claim four times per lifetime, so one or two
	// slow JetStream answers (a leader election) do not lose it.
	renewEvery = 2 * time.Second
	// claimGrace keeps a claim whose room has no member yet (the first
	// participant's join is on its way) from being released at once.
	claimGrace = 10 * time.Second
	// loadEvery is how often a node publishes its load.
	loadEvery = time.Second
	// deadAfter: a node not heard from for five reports is taken for
	// dead; its links are ended so clients reconnect. Five, not fewer: a
	// node starved of CPU for a few seconds is slow, not dead, and ending
	// its links costs every relayed participant a reconnection.
	deadAfter = 5 * loadEvery
	// requestTimeout bounds a request to another node (place, open,
	// admin): on a LAN they answer in milliseconds.
	requestTimeout = 3 * time.Second
	// waitStep is how often Locate looks again while a dead owner's lease
	// runs out.
	waitStep = 250 * time.Millisecond
	// placementSlack is how many more participants than the least loaded
	// node this node may hold before a new room goes elsewhere: rooms
	// stay where their first participant arrived unless the difference
	// is large, so a cluster fills evenly without moving every room.
	placementSlack = 50
	// busyCPU is the share of the machine's CPU above which this node
	// places new rooms elsewhere when another node is less busy.
	busyCPU = 0.8
)

// bucket is the room directory's key-value bucket: key the room, value the
// owner node's name.
const bucket = "parley_rooms"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidName reports whether s may name a node.
func ValidName(s string) bool { return nameRE.MatchString(s) }
