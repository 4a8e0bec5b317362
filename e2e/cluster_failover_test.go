package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// maxMeshFailoverGap is the longest a mesh participant may go without
// receiving any RTP while the room's node dies and the room is placed again
// (docs/cluster.md "What happens when"): media goes browser to browser, so
// the signaling outage (5 s until the entry nodes give the dead node up, up
// to 8 s of lease) must not show; what may show is the rebuild under new ids
// after the fresh join (one negotiation and handshake on loopback, slow
// under the race detector on a loaded machine).
const maxMeshFailoverGap = 3 * time.Second

// TestClusterMeshMediaThroughFailover: A and B talk in a mesh room that
// lives on node0, each relayed by its own entry node (node1, node2). node0
// dies without a word. Their signaling is gone for seconds (their entry
// nodes end the links, the joins wait for node0's lease to expire, the
// room is placed again on a surviving node), but the RTP each receives
// from the other never stops for longer than maxMeshFailoverGap, and once
// they have joined afresh they receive each other again under their new
// ids.
func TestClusterMeshMediaThroughFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	nodes := startCluster(t, 3, nil)
	log := peerLogs(t)
	room := "cluster-mesh-failover"
	// The room goes on node0, which nobody enters through (its claim
	// waits claimGrace for a first member).
	if owner, local, err := nodes[0].srv.Cluster().Locate(ctx, room); err != nil || !local {
		t.Fatalf("placing %s on node0: %q, local %v, %v", room, owner, local, err)
	}
	a := clusterJoin(t, ctx, log, nodes[1], room, "A")
	b := clusterJoin(t, ctx, log, nodes[2], room, "B")
	peers := []*pionpeer.Peer{a, b}
	meshPoll(t, 30*time.Second, func() string { return missingMedia(peers) })
	if h, k := roomNode(nodes, room); k != 1 || h != nodes[0] {
		t.Fatalf("room held by %d nodes, want node0 only", k)
	}

	w := watchInbound(peers)
	killed := time.Now()
	nodes[0].kill(nodes)
	meshPoll(t, 30*time.Second, func() string {
		for _, p := range peers {
			recs := p.Reconnections()
			if len(recs) == 0 || recs[len(recs)-1].Back.IsZero() {
				return p.Welcome().Name + " has not joined again"
			}
		}
		return missingMedia(peers)
	})
	gaps := w.stop()
	live := nodes[1:]
	h, k := roomNode(live, room)
	if k != 1 {
		t.Fatalf("room held by %d surviving nodes, want 1", k)
	}
	for _, p := range peers {
		name := p.Welcome().Name
		r := p.Reconnections()[len(p.Reconnections())-1]
		outage := r.Back.Sub(killed) // its signaling was useless from the kill on
		t.Logf("%s: signaling lost %v after the kill, joined again %v after it (resumed %v); longest gap in received RTP %v",
			name, r.Lost.Sub(killed).Round(time.Millisecond), outage.Round(time.Millisecond), r.Resumed, gaps[p].Round(time.Millisecond))
		if gaps[p] > maxMeshFailoverGap {
			t.Errorf("%s received no RTP for %v during the failover, want at most %v", name, gaps[p].Round(time.Millisecond), maxMeshFailoverGap)
		}
		if gaps[p] >= outage {
			t.Errorf("%s's media stopped for %v, as long as its signaling (%v): the mesh did not carry on", name, gaps[p], outage)
		}
	}
	t.Logf("room on %s after the failover, %v after the kill", h.name, time.Since(killed).Round(time.Millisecond))
}

// inboundWatch samples what participants receive, to find the longest time
// each went without any RTP packet from anyone.
type inboundWatch struct {
	quit chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex // guards gaps
	gaps map[*pionpeer.Peer]time.Duration
}

// inboundSample is how often watchInbound looks: well below the gaps it
// is meant to see (an audio packet arrives every 20 ms).
const inboundSample = 20 * time.Millisecond

// watchInbound starts sampling peers until stop.
func watchInbound(peers []*pionpeer.Peer) *inboundWatch {
	w := &inboundWatch{quit: make(chan struct{}), gaps: map[*pionpeer.Peer]time.Duration{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		last := map[*pionpeer.Peer]uint64{}
		since := map[*pionpeer.Peer]time.Time{}
		tick := time.NewTicker(inboundSample)
		defer tick.Stop()
		for {
			now := time.Now()
			for _, p := range peers {
				n := totalReceived(p)
				if _, seen := since[p]; !seen || n != last[p] {
					last[p], since[p] = n, now
				}
				w.mu.Lock()
				w.gaps[p] = max(w.gaps[p], now.Sub(since[p]))
				w.mu.Unlock()
			}
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// stop ends the sampling and returns each participant's longest gap.
func (w *inboundWatch) stop() map[*pionpeer.Peer]time.Duration {
	close(w.quit)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gaps
}

// totalReceived is every RTP packet p received, from anyone, of any kind.
func totalReceived(p *pionpeer.Peer) uint64 {
	var n uint64
	for _, s := range p.Stats() {
		n += s.Packets
	}
	return n
}
