package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testsupport/ports"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// Helpers of the cluster tests (docs/cluster.md): nodes of one cluster in
// this test process, each with its own HTTP, SFU and route ports on
// loopback, and a front door per node standing in for a load balancer.

// clusterNode is one running Parley node.
type clusterNode struct {
	name   string
	srv    *server.Server
	hooks  *server.TestHooks // its hub, and a crash of its cluster link
	url    string            // http://127.0.0.1:PORT, direct
	logs   *testlog.Buffer
	front  *frontDoor
	cancel context.CancelFunc
	done   chan error
}

// freeTCPPort returns a loopback port free a moment ago, outside the
// kernel's ephemeral range (ports.Free says why).
func freeTCPPort(t testing.TB) int { return ports.Free(t) }

// startNode runs one node with cfg changed by mutate.
func startNode(t testing.TB, name string, mutate func(*config.Config)) *clusterNode {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.TURN.Listen = "off"
	cfg.SFU.UDPPort = 0
	cfg.SFU.Loopback = true
	cfg.LogLevel = "debug"
	cfg.AdminToken = testserver.AdminToken
	cfg.Metrics.Listen = "off"
	cfg.Cluster.NodeName = name
	mutate(&cfg)
	log, logs := testlog.New(t, name+" log")
	hooks := new(server.TestHooks)
	srv, err := server.New(cfg, log.With("node", name), server.WithTestHooks(hooks))
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &clusterNode{name: name, srv: srv, hooks: hooks, url: "http://" + ln.Addr().String(), logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(n.stop)
	return n
}

func (n *clusterNode) stop() {
	n.cancel()
	<-n.done
}

// startCluster runs k nodes routed to each other (embedded NATS), each
// behind a front door that fails over to the next node, and waits until
// every node is ready and hears all k.
func startCluster(t testing.TB, k int, mutate func(i int, c *config.Config)) []*clusterNode {
	t.Helper()
	ports := make([]int, k)
	for i := range ports {
		ports[i] = freeTCPPort(t)
	}
	nodes := make([]*clusterNode, k)
	for i := range nodes {
		nodes[i] = startNode(t, fmt.Sprintf("node%d", i), func(c *config.Config) {
			c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", ports[i])
			c.Cluster.Peers = routePeers(ports, i)
			c.Cluster.Secret = "test-route-secret"
			if mutate != nil {
				mutate(i, c)
			}
		})
	}
	addFrontDoors(t, nodes)
	waitClusterReady(t, nodes, k)
	return nodes
}

// routePeers lists the route URLs of every node's port but node self's.
func routePeers(ports []int, self int) []string {
	var peers []string
	for j, p := range ports {
		if j != self {
			peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
	}
	return peers
}

// addFrontDoors puts a front door before each node.
func addFrontDoors(t testing.TB, nodes []*clusterNode) {
	for i, n := range nodes {
		var order []*clusterNode
		for j := range nodes {
			order = append(order, nodes[(i+j)%len(nodes)])
		}
		n.front = newFrontDoor(t, order)
	}
}

// waitClusterReady polls every node's /readyz until it is ready and
// reports k nodes.
func waitClusterReady(t testing.TB, nodes []*clusterNode, k int) {
	t.Helper()
	want := fmt.Sprintf(": %d nodes", k)
	clusterPoll(t, 60*time.Second, func() string {
		for _, n := range nodes {
			body, code := httpGet(n.url + "/readyz")
			if code != http.StatusOK || !strings.Contains(body, want) {
				return fmt.Sprintf("%s /readyz: %d %q", n.name, code, body)
			}
		}
		return ""
	})
}

func httpGet(url string) (string, int) {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error(), 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// wsURL is the node's signaling endpoint behind its front door.
func (n *clusterNode) wsURL() string { return "ws://" + n.front.addr + "/ws" }

// roomNode names the node holding room, from every node's own rooms.
func roomNode(nodes []*clusterNode, room string) (*clusterNode, int) {
	var holder *clusterNode
	count := 0
	for _, n := range nodes {
		for _, r := range n.hooks.Hub.Rooms() {
			if r.Name == room {
				holder = n
				count++
			}
		}
	}
	return holder, count
}

// kill stops n as a crash would, from everyone else's point of view: its
// front-door connections are cut, NATS stops without a word, its SFU
// stops forwarding. Nothing is said to anyone. It returns the other nodes.
func (n *clusterNode) kill(nodes []*clusterNode) (live []*clusterNode) {
	for _, o := range nodes {
		o.front.cut(n)
		if o != n {
			live = append(live, o)
		}
	}
	n.hooks.KillCluster()
	n.srv.SFU().Close()
	return live
}

// frontDoor is a TCP proxy standing in for a load balancer: it sends each
// connection to the first node of its order that is not dead.
type frontDoor struct {
	addr  string
	order []*clusterNode

	mu    sync.Mutex // guards the fields below
	dead  map[*clusterNode]bool
	conns map[*clusterNode][]net.Conn
}

func newFrontDoor(t testing.TB, order []*clusterNode) *frontDoor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &frontDoor{addr: ln.Addr().String(), order: order, dead: map[*clusterNode]bool{}, conns: map[*clusterNode][]net.Conn{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		for _, n := range order {
			f.cut(n)
		}
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c) }()
		}
	}()
	return f
}

// serve pipes c to the first live node.
func (f *frontDoor) serve(c net.Conn) {
	f.mu.Lock()
	var target *clusterNode
	for _, n := range f.order {
		if !f.dead[n] {
			target = n
			break
		}
	}
	f.mu.Unlock()
	if target == nil {
		c.Close()
		return
	}
	b, err := net.Dial("tcp", strings.TrimPrefix(target.url, "http://"))
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	if f.dead[target] {
		f.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	f.conns[target] = append(f.conns[target], c, b)
	f.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
}

// cut marks n dead and closes every connection to it.
func (f *frontDoor) cut(n *clusterNode) {
	f.mu.Lock()
	f.dead[n] = true
	conns := f.conns[n]
	f.conns[n] = nil
	f.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// routeAddr is the node's cluster route listener, HOST:PORT.
func (n *clusterNode) routeAddr(t testing.TB) string {
	t.Helper()
	return n.srv.Cluster().RouteAddr()
}

// clusterPoll is meshPoll for tests and benchmarks.
func clusterPoll(t testing.TB, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for msg := cond(); msg != ""; msg = cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
