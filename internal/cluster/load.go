package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Load is what a node publishes about itself every loadEvery on
// parley.load; the others place rooms and judge liveness by it.
type Load struct {
	Node          string  `json:"node"`
	Rooms         int     `json:"rooms"`
	Participants  int     `json:"participants"`
	PacketsPerSec float64 `json:"packetsPerSec"` // RTP packets the SFU forwarded per second
	CPU           float64 `json:"cpu"`           // share of the machine's CPU this process used, 0..1
}

// NodeInfo is a node as this node sees it.
type NodeInfo struct {
	Load
	LastSeen time.Time `json:"lastSeen"`
	Alive    bool      `json:"alive"`
}

// peerTable is the last load report of every node heard from.
type peerTable struct {
	mu   sync.Mutex // guards the fields below
	last map[string]NodeInfo
	// own load measurement, owned by loadLoop
	cpuAt    time.Time
	cpuTicks uint64
	pktAt    time.Time
	pkts     uint64
	self     Load
}

func (p *peerTable) init() { p.last = make(map[string]NodeInfo) }

// loadLoop publishes this node's load every loadEvery, and ends the links
// to nodes that fell silent.
func (n *Node) loadLoop(ctx context.Context) {
	tick := time.NewTicker(loadEvery)
	defer tick.Stop()
	for {
		n.publishLoad()
		n.reapDead()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// publishLoad measures and sends this node's load.
func (n *Node) publishLoad() {
	l := n.measure()
	b, _ := json.Marshal(l) // a struct of numbers and a name: cannot fail
	if err := n.t.nc.Publish(subjLoad, b); err != nil {
		n.log.Debug("load report not sent", "err", err)
	}
}

// measure is this node's load now.
func (n *Node) measure() Load {
	l := Load{Node: n.opts.Name}
	for _, r := range n.host.Rooms() {
		l.Rooms++
		l.Participants += len(r.Peers)
	}
	now := time.Now()
	p := &n.peers
	p.mu.Lock()
	defer p.mu.Unlock()
	if ticks, ok := cpuTicks(); ok {
		if !p.cpuAt.IsZero() && ticks >= p.cpuTicks {
			// clock ticks are 1/100 s on Linux
			l.CPU = float64(ticks-p.cpuTicks) / 100 / now.Sub(p.cpuAt).Seconds() / float64(runtime.NumCPU())
		}
		p.cpuAt, p.cpuTicks = now, ticks
	}
	if n.LoadFunc != nil {
		pkts := n.LoadFunc()
		if !p.pktAt.IsZero() && pkts >= p.pkts {
			l.PacketsPerSec = float64(pkts-p.pkts) / now.Sub(p.pktAt).Seconds()
		}
		p.pktAt, p.pkts = now, pkts
	}
	p.self = l
	return l
}

// selfLoad is the load last measured.
func (n *Node) selfLoad() Load {
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	return n.peers.self
}

// cpuTicks is this process's user+system CPU time in clock ticks, from
// /proc/self/stat; false where there is none.
func cpuTicks() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces: fields count from after ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64) // utime, field 14
	s, err2 := strconv.ParseUint(f[12], 10, 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return u + s, true
}

// onLoad records another node's report; a malformed one is counted and
// dropped.
func (n *Node) onLoad(m *nats.Msg) {
	var l Load
	if err := json.Unmarshal(m.Data, &l); err != nil {
		n.dropBad(m.Subject, fmt.Errorf("%w: %v", ErrBadFrame, err))
		return
	}
	if !ValidName(l.Node) || l.Rooms < 0 || l.Participants < 0 || l.CPU < 0 || l.PacketsPerSec < 0 {
		n.dropBad(m.Subject, fmt.Errorf("%w: load report out of range", ErrBadFrame))
		return
	}
	n.peers.mu.Lock()
	n.peers.last[l.Node] = NodeInfo{Load: l, LastSeen: time.Now()}
	n.peers.mu.Unlock()
}

// alive reports whether node was heard from within deadAfter.
func (p *peerTable) alive(node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ni, ok := p.last[node]
	return ok && time.Since(ni.LastSeen) < deadAfter
}

// Nodes lists every node heard from, alive or not, by name.
func (n *Node) Nodes() []NodeInfo {
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	out := make([]NodeInfo, 0, len(n.peers.last))
	for _, ni := range n.peers.last {
		ni.Alive = time.Since(ni.LastSeen) < deadAfter
		out = append(out, ni)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// Members counts the live nodes, this one included once its own report
// came back.
func (n *Node) Members() int {
	k := 0
	for _, ni := range n.Nodes() {
		if ni.Alive {
			k++
		}
	}
	return k
}

// choose picks the node for a new room: self unless it is loaded, else the
// least loaded live node (ties go to the first by name, so that nodes
// choosing at once agree). A node not heard from within deadAfter is never
// chosen.
func (p *peerTable) choose(self string, own Load) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	best, bestLoad := self, own
	for _, name := range slices.Sorted(maps.Keys(p.last)) {
		ni := p.last[name]
		if name == self || time.Since(ni.LastSeen) >= deadAfter {
			continue
		}
		if lighter(ni.Load, bestLoad) {
			best, bestLoad = name, ni.Load
		}
	}
	if best == self {
		return self
	}
	loaded := own.Participants > bestLoad.Participants+placementSlack || (own.CPU >= busyCPU && bestLoad.CPU < own.CPU)
	if !loaded {
		return self
	}
	return best
}

// lighter says a is less loaded than b: CPU first when either is busy,
// else participants, and between nodes with as many participants, the one
// forwarding fewer packets per second (its rooms are in a mesh, or smaller:
// docs/cluster.md "The directory" says why packets/s is no more than that).
func lighter(a, b Load) bool {
	if a.CPU >= busyCPU || b.CPU >= busyCPU {
		return a.CPU < b.CPU
	}
	if a.Participants != b.Participants {
		return a.Participants < b.Participants
	}
	return a.PacketsPerSec < b.PacketsPerSec
}

// reapDead ends the links to nodes no longer heard from, so the clients
// behind them reconnect and their rooms are placed again.
func (n *Node) reapDead() {
	for _, node := range n.links.peers() {
		if !n.peers.alive(node) {
			n.links.endAll(n, node)
		}
	}
}
