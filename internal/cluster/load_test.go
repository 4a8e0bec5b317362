package cluster

import (
	"testing"
	"time"
)

// table is a peer table whose nodes were last heard from ago before now.
func table(loads map[string]Load, ago map[string]time.Duration) *peerTable {
	p := &peerTable{}
	p.init()
	for name, l := range loads {
		l.Node = name
		p.last[name] = NodeInfo{Load: l, LastSeen: time.Now().Add(-ago[name])}
	}
	return p
}

// TestChoose: where a node places a new room, from the load reports it
// heard (docs/cluster.md "The directory", placement).
func TestChoose(t *testing.T) {
	dead := deadAfter + time.Second
	for _, tc := range []struct {
		name  string
		own   Load
		peers map[string]Load
		ago   map[string]time.Duration
		want  string
	}{
		{"unloaded: here", Load{Participants: 10},
			map[string]Load{"b": {Participants: 0}, "c": {Participants: 5}}, nil, "self"},
		{"within the slack: here", Load{Participants: placementSlack},
			map[string]Load{"b": {Participants: 0}}, nil, "self"},
		{"loaded: the least loaded", Load{Participants: 120},
			map[string]Load{"b": {Participants: 60}, "c": {Participants: 30}, "d": {Participants: 69}}, nil, "c"},
		{"loaded, but the lighter node is dead", Load{Participants: 120},
			map[string]Load{"b": {Participants: 100}, "c": {Participants: 0}}, map[string]time.Duration{"c": dead}, "self"},
		{"loaded, dead nodes skipped", Load{Participants: 200},
			map[string]Load{"b": {Participants: 100}, "c": {Participants: 0}}, map[string]time.Duration{"c": dead}, "b"},
		{"busy CPU: the least busy", Load{Participants: 10, CPU: 0.9},
			map[string]Load{"b": {Participants: 0, CPU: 0.85}, "c": {Participants: 40, CPU: 0.3}}, nil, "c"},
		{"busy CPU everywhere, and here least", Load{Participants: 10, CPU: 0.85},
			map[string]Load{"b": {CPU: 0.9}, "c": {CPU: 0.95}}, nil, "self"},
		{"ties with self: here", Load{Participants: 120},
			map[string]Load{"b": {Participants: 120}}, nil, "self"},
		{"ties between others: first by name", Load{Participants: 120},
			map[string]Load{"d": {Participants: 10}, "b": {Participants: 10}, "c": {Participants: 10}}, nil, "b"},
		{"same participants: fewer packets/s", Load{Participants: 120},
			map[string]Load{"b": {Participants: 10, PacketsPerSec: 5000}, "c": {Participants: 10, PacketsPerSec: 200}}, nil, "c"},
		{"only dead others", Load{Participants: 500, CPU: 0.99},
			map[string]Load{"b": {}, "c": {}}, map[string]time.Duration{"b": dead, "c": dead}, "self"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := table(tc.peers, tc.ago)
			// A node hears its own reports too: its entry must not count.
			p.last["self"] = NodeInfo{Load: Load{Node: "self"}, LastSeen: time.Now()}
			for range 20 { // map order must not matter
				if got := p.choose("self", tc.own); got != tc.want {
					t.Fatalf("choose = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// TestLighter: CPU decides when either node is busy, else participants,
// else packets forwarded per second.
func TestLighter(t *testing.T) {
	for _, tc := range []struct {
		a, b Load
		want bool
	}{
		{Load{Participants: 1}, Load{Participants: 2}, true},
		{Load{Participants: 2}, Load{Participants: 1}, false},
		{Load{Participants: 2}, Load{Participants: 2}, false},
		{Load{Participants: 50, CPU: 0.5}, Load{Participants: 1, CPU: busyCPU}, true},
		{Load{Participants: 1, CPU: busyCPU}, Load{Participants: 50, CPU: 0.5}, false},
		{Load{Participants: 3, PacketsPerSec: 10}, Load{Participants: 3, PacketsPerSec: 900}, true},
		{Load{Participants: 3, PacketsPerSec: 900}, Load{Participants: 3, PacketsPerSec: 900}, false},
	} {
		if got := lighter(tc.a, tc.b); got != tc.want {
			t.Errorf("lighter(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
