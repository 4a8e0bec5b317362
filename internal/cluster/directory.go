package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/signaling"
)

// The room directory (docs/cluster.md "Directory"): a JetStream key-value
// bucket whose key is a room and whose value is the name of the node that
// holds it. A node claims a room with an atomic Create, which fails when
// any node holds it, so there is never more than one owner. The bucket's
// TTL is the lease: the owner rewrites its claims every renewEvery with a
// compare-and-set on the revision it wrote; a node that dies stops renewing
// and its claims vanish leaseTTL later. A node that finds its revision
// overwritten, or that could not renew for a whole lease, has lost the room
// and evicts its copy.

// claim is one room this node holds.
type claim struct {
	rev     uint64    // the revision this node last wrote
	since   time.Time // when it was claimed
	renewed time.Time // when it was last written
}

// directory is the node's view of its own claims.
type directory struct {
	mu    sync.Mutex // guards owned
	owned map[string]*claim
}

func (d *directory) init() { d.owned = make(map[string]*claim) }

// directoryRetry is the wait between attempts to open the bucket while the
// cluster forms (a JetStream meta leader is elected in a few seconds).
const directoryRetry = 500 * time.Millisecond

// openDirectory creates or opens the bucket, retrying until the cluster
// can answer.
func (n *Node) openDirectory(ctx context.Context) {
	replicas := n.t.replicas
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		kv, err := n.js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{
			Bucket: bucket, TTL: leaseTTL, History: 1, Replicas: replicas, Storage: jetstream.MemoryStorage,
			Description: "Parley room → node leases (docs/cluster.md)",
		})
		cancel()
		if err == nil {
			n.kv.Store(&kv)
			n.log.Info("room directory ready", "replicas", replicas)
			n.claimHeld(ctx, kv)
			return
		}
		if replicas > 1 && isReplicaError(err) {
			replicas = 1 // an external server without JetStream clustering
			continue
		}
		n.log.Debug("room directory not ready yet", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(directoryRetry):
		}
	}
}

// replicasNotSupported is JetStream's error code for replicas asked of a
// server that is not clustered (JSStreamReplicasNotSupportedErr).
const replicasNotSupported jetstream.ErrorCode = 10074

// isReplicaError says the server cannot hold replicas (not clustered).
func isReplicaError(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == replicasNotSupported
}

// Ready reports whether this node can place rooms: its room directory
// answers, or it is a cluster's first node, alone (see alone).
func (n *Node) Ready() bool { return n.kv.Load() != nil || n.alone() }

// DirectoryReady reports whether the room directory answers.
func (n *Node) DirectoryReady() bool { return n.kv.Load() != nil }

// alone says this node is the first of a cluster: it names no peer, so no
// other node can hold a room until one routes to it, and JetStream (whose
// RAFT groups wait for a first route) cannot answer before. Until its
// directory is ready it serves every room itself, held unclaimed
// (revision 0); claimHeld claims them once the directory answers.
func (n *Node) alone() bool {
	return n.opts.NATSURL == "" && len(n.opts.Peers) == 0 && n.kv.Load() == nil
}

func (n *Node) bucket() (jetstream.KeyValue, error) {
	p := n.kv.Load()
	if p == nil {
		return nil, ErrNotReady
	}
	return *p, nil
}

// Locate implements signaling.Cluster: the node that holds room, placing it
// when nobody does. A room whose owner is dead is placed again once its
// lease has expired; Locate waits for that, and looks again while the
// directory does not answer (ctx bounds the wait).
func (n *Node) Locate(ctx context.Context, room string) (string, bool, error) {
	kv, err := n.bucket()
	if err != nil {
		if n.alone() {
			n.dir.adopt(room, 0)
			return n.opts.Name, true, nil
		}
		return "", false, err
	}
	var lastErr error
	for {
		gctx, cancel := context.WithTimeout(ctx, requestTimeout)
		e, err := kv.Get(gctx, room)
		cancel()
		switch {
		case err == nil:
			owner := string(e.Value())
			if owner == n.opts.Name {
				n.dir.adopt(room, e.Revision())
				return owner, true, nil
			}
			if n.peers.alive(owner) {
				return owner, false, nil
			}
			// A dead owner's lease runs out within leaseTTL.
		case errors.Is(err, jetstream.ErrKeyNotFound):
			owner, err := n.place(ctx, room)
			if err == nil {
				return owner, owner == n.opts.Name, nil
			}
			n.log.Debug("placing room failed; looking again", "room", room, "err", err)
		default:
			// The directory cannot answer for a moment: a JetStream
			// leader died with its node and the others elect one.
			lastErr = err
			n.log.Debug("room directory did not answer; looking again", "room", room, "err", err)
		}
		select {
		case <-ctx.Done():
			return "", false, fmt.Errorf("cluster: locate %s: %w (last answer: %v)", room, context.Cause(ctx), lastErr)
		case <-time.After(waitStep):
		}
	}
}

// place puts a room nobody holds on this node, unless it is loaded, else
// on the least loaded live node, which claims it itself (only an owner
// writes its claims). It returns the owner, which may be another node that
// won a race.
func (n *Node) place(ctx context.Context, room string) (string, error) {
	target := n.peers.choose(n.opts.Name, n.selfLoad())
	if target == n.opts.Name {
		return n.claim(ctx, room)
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg, err := n.t.nc.RequestWithContext(rctx, subjPlace(target), []byte(room))
	if err != nil {
		n.log.Warn("chosen node did not answer; placing here", "room", room, "node", target, "err", err)
		return n.claim(ctx, room)
	}
	owner := string(msg.Data)
	if !ValidName(owner) {
		return "", fmt.Errorf("%w: %s answered %q", ErrNodeRefused, target, truncate(owner))
	}
	return owner, nil
}

// claim makes this node the room's owner if nobody is; it returns the owner.
func (n *Node) claim(ctx context.Context, room string) (string, error) {
	kv, err := n.bucket()
	if err != nil {
		return "", err
	}
	rev, err := kv.Create(ctx, room, []byte(n.opts.Name))
	if err == nil {
		n.dir.adopt(room, rev)
		n.log.Info("room placed here", "room", room)
		return n.opts.Name, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("cluster: claim %s: %w", room, err)
	}
	e, err := kv.Get(ctx, room)
	if err != nil {
		return "", fmt.Errorf("cluster: claim %s: lost the race, then: %w", room, err)
	}
	return string(e.Value()), nil
}

// onPlace answers another node's request to take a room.
func (n *Node) onPlace(m *nats.Msg) {
	room := string(m.Data)
	if !signaling.ValidRoomName(room) {
		n.dropBad(m.Subject, fmt.Errorf("%w: room name %q", ErrBadFrame, truncate(room)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	owner, err := n.claim(ctx, room)
	if err != nil {
		n.log.Warn("cannot place room for another node", "room", room, "err", err)
		m.Respond([]byte("error"))
		return
	}
	m.Respond([]byte(owner))
}

// claimHeld claims, once the directory answers, the rooms this node served
// while alone. A room another node claimed meanwhile (its first participant
// reached that node in the moment both directories became ready) is lost,
// and its copy here evicted: one owner, as after a split brain
// (docs/cluster.md). A claim that fails otherwise is retried by the renewal
// loop (an Update at revision 0 is a Create).
func (n *Node) claimHeld(ctx context.Context, kv jetstream.KeyValue) {
	n.dir.mu.Lock()
	var held []string
	for room, c := range n.dir.owned {
		if c.rev == 0 {
			held = append(held, room)
		}
	}
	n.dir.mu.Unlock()
	for _, room := range held {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		rev, err := kv.Create(cctx, room, []byte(n.opts.Name))
		switch {
		case err == nil:
			n.dir.renewed(room, rev, time.Now())
		case errors.Is(err, jetstream.ErrKeyExists) && !n.stillOurs(cctx, kv, room, time.Now()):
			n.log.Warn("room served alone was claimed by another node; evicting", "room", room)
			n.dir.forget(room)
			n.host.EvictRoom(room)
		case err != nil:
			n.log.Warn("cannot claim room served alone yet; retrying", "room", room, "err", err)
			n.dir.renewed(room, 0, time.Now())
		}
		cancel()
	}
}

// adopt records that this node holds room at revision rev.
func (d *directory) adopt(room string, rev uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.owned[room]; c != nil {
		if rev > c.rev {
			c.rev = rev
		}
		return
	}
	now := time.Now()
	d.owned[room] = &claim{rev: rev, since: now, renewed: now}
}

// Owned lists the rooms this node holds a claim on.
func (n *Node) Owned() []string {
	n.dir.mu.Lock()
	defer n.dir.mu.Unlock()
	out := make([]string, 0, len(n.dir.owned))
	for r := range n.dir.owned {
		out = append(out, r)
	}
	return out
}

// renewLoop keeps this node's claims alive, releases those of rooms that
// ended, and evicts rooms whose claim was lost.
func (n *Node) renewLoop(ctx context.Context) {
	tick := time.NewTicker(renewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			n.renewAll(ctx)
		}
	}
}

// renewAll renews, releases or evicts each claim once.
func (n *Node) renewAll(ctx context.Context) {
	kv, err := n.bucket()
	if err != nil {
		return
	}
	live := map[string]bool{}
	for _, r := range n.host.Rooms() {
		live[r.Name] = true
	}
	n.dir.mu.Lock()
	claims := make(map[string]claim, len(n.dir.owned))
	for r, c := range n.dir.owned {
		claims[r] = *c
	}
	n.dir.mu.Unlock()
	for room, c := range claims {
		now := time.Now() // per claim: each renewal may wait up to renewEvery
		cctx, cancel := context.WithTimeout(ctx, renewEvery)
		switch {
		case !live[room] && now.Sub(c.since) > claimGrace:
			if c.rev != 0 { // else never claimed: nothing to delete
				err = kv.Delete(cctx, room, jetstream.LastRevision(c.rev))
			}
			n.dir.forget(room)
			n.log.Debug("room released", "room", room, "err", err)
		default:
			n.renew(cctx, kv, room, c, now)
		}
		cancel()
	}
}

// renew rewrites one claim; a claim another node overwrote, or one this
// node could not renew for a whole lease, is lost and its room evicted. A
// lease that ran out is given up before asking (a cut-off node's request
// would only wait its timeout, while the other side may place the room),
// and after a failed attempt the lease is judged at the attempt's end, so
// the eviction follows the lease's end by at most about one renewEvery.
func (n *Node) renew(ctx context.Context, kv jetstream.KeyValue, room string, c claim, now time.Time) {
	if now.Sub(c.renewed) >= leaseTTL {
		n.evict(room, fmt.Errorf("not renewed for %v", now.Sub(c.renewed).Round(time.Millisecond)))
		return
	}
	rev, err := kv.Update(ctx, room, []byte(n.opts.Name), c.rev)
	if err == nil {
		n.dir.renewed(room, rev, now)
		return
	}
	mismatch := errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
	if mismatch && n.stillOurs(ctx, kv, room, now) {
		return // an earlier renewal that timed out here had been applied
	}
	lost := mismatch || errors.Is(err, jetstream.ErrKeyNotFound) || time.Since(c.renewed) >= leaseTTL
	if !lost {
		n.log.Warn("lease renewal failed; retrying", "room", room, "err", err)
		return
	}
	n.evict(room, err)
}

// evict ends this node's copy of a room whose lease it lost.
func (n *Node) evict(room string, why error) {
	n.log.Warn("lease lost; evicting room", "room", room, "err", why)
	n.dir.forget(room)
	n.host.EvictRoom(room)
}

// stillOurs reads a claim whose revision moved: when it still names this
// node, the move was this node's own write (a renewal whose answer timed
// out had been applied: only the owner writes its claim), and the claim is
// kept at the new revision.
func (n *Node) stillOurs(ctx context.Context, kv jetstream.KeyValue, room string, now time.Time) bool {
	e, err := kv.Get(ctx, room)
	if err != nil || string(e.Value()) != n.opts.Name {
		return false
	}
	n.dir.renewed(room, e.Revision(), now)
	return true
}

func (d *directory) renewed(room string, rev uint64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.owned[room]; c != nil {
		c.rev, c.renewed = rev, at
	}
}

func (d *directory) forget(room string) {
	d.mu.Lock()
	delete(d.owned, room)
	d.mu.Unlock()
}

// releaseAll deletes every claim, at a graceful stop.
func (d *directory) releaseAll(n *Node) {
	kv, err := n.bucket()
	if err != nil {
		return
	}
	d.mu.Lock()
	claims := d.owned
	d.owned = map[string]*claim{}
	d.mu.Unlock()
	for room, c := range claims {
		if c.rev == 0 {
			continue // never claimed
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		kv.Delete(ctx, room, jetstream.LastRevision(c.rev))
		cancel()
	}
}

// truncate shortens untrusted text for logs.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
