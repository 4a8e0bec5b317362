package server

import (
	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/signaling"
)

// TestHooks reach into a running Server for tests (e2e): what no operator
// or client may do, so none of it is a method of Server. New fills in the
// TestHooks a test passes with WithTestHooks; cmd/parley passes none, and a
// Server built without them has no such way in. An option rather than a
// build tag: the e2e tests run against the ordinary build.
type TestHooks struct {
	// Hub is the node's own signaling hub, to read its rooms without the
	// cluster's view of them (the admin API's).
	Hub *signaling.Hub
	// KillCluster cuts the node from its cluster as a crash would: NATS
	// stops without a word to the others, nothing is released. Nil for
	// a node that is alone.
	KillCluster func()
	// IsolateCluster cuts the node off its cluster and leaves it serving,
	// as a network partition would (docs/cluster.md "Split brain"). Nil
	// for a node that is alone.
	IsolateCluster func()

	cluster cluster.Hooks
}

// WithTestHooks has New fill in h. For tests only.
func WithTestHooks(h *TestHooks) Option { return func(s *Server) { s.hooks = h } }

// clusterHooks are the cluster node's hooks to fill, or nil without
// TestHooks.
func (h *TestHooks) clusterHooks() *cluster.Hooks {
	if h == nil {
		return nil
	}
	return &h.cluster
}

// fill sets the hooks from the Server New built.
func (h *TestHooks) fill(s *Server) {
	if h == nil {
		return
	}
	h.Hub = s.hub
	h.KillCluster = h.cluster.Kill
	h.IsolateCluster = h.cluster.Isolate
}
