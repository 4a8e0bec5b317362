package cluster

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/testsupport/ports"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/signaling"
)

// fakeHost is a hub with fixed rooms that records what it is asked.
type fakeHost struct {
	rooms   []signaling.RoomInfo
	evicted chan string
}

func (f *fakeHost) ServeRemote(signaling.Hello, signaling.Link) (func(signaling.Frame), error) {
	return func(signaling.Frame) {}, nil
}
func (f *fakeHost) Rooms() []signaling.RoomInfo { return f.rooms }
func (f *fakeHost) EvictRoom(name string)       { f.evicted <- name }

// freePort is a route port (ports.Free: outside the ephemeral range, so
// a peer dialling it early cannot take it).
func freePort(t *testing.T) int { return ports.Free(t) }

// startPair starts two clustered nodes on loopback, routed to each other
// (JetStream clustering needs routes), and waits for their directory. The
// first is returned.
func startPair(t *testing.T, host Host) *Node {
	t.Helper()
	ports := []int{freePort(t), freePort(t)}
	var nodes []*Node
	for i, name := range []string{"solo", "other"} {
		log, _ := testlog.New(t, name+" log")
		n, err := New(Options{
			Name: name, Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Peers: []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1-i])}, Logger: log,
		}, host)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(func() { cancel(); n.Close() })
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !nodes[0].Ready() || !nodes[1].Ready() {
		if time.Now().After(deadline) {
			t.Fatal("room directory not ready after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nodes[0]
}

// TestUnloadedNodePlacesLocally: a node that is not loaded places a new
// room on itself, once.
func TestUnloadedNodePlacesLocally(t *testing.T) {
	n := startPair(t, &fakeHost{evicted: make(chan string, 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		node, local, err := n.Locate(ctx, "room-1")
		if err != nil || !local || node != "solo" {
			t.Fatalf("Locate = %q, %v, %v; want solo, local", node, local, err)
		}
	}
	if got := n.Owned(); len(got) != 1 || got[0] != "room-1" {
		t.Fatalf("owned %v, want [room-1]", got)
	}
}

// TestMalformedMessagesDropped: garbage on every Parley subject (links
// included) is counted and dropped; the node still places rooms afterwards.
func TestMalformedMessagesDropped(t *testing.T) {
	n := startPair(t, &fakeHost{evicted: make(chan string, 1)})
	// A link, so that this node listens on a link subject too.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	l, err := n.Dial(dctx, "other", signaling.Hello{Session: "garbage-link"}, func(signaling.Frame) {})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bad := []struct{ subj, data string }{
		{subjDown("garbage-link"), ""},
		{subjDown("garbage-link"), "\x63junk"},
		{subjDown("garbage-link"), "\x05"}, // a close without its code
		{subjLoad, "{not json"},
		{subjLoad, `{"node":"a.b"}`},
		{subjOpen("solo"), "\x00\xff"},
		{subjOpen("solo"), `{"session":"x","entry":"e"}`},
		{subjPlace("solo"), "no room/name"},
		{subjAdmin("solo"), "[]"},
	}
	for _, b := range bad {
		if err := n.t.nc.Publish(b.subj, []byte(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	n.t.nc.Flush()
	deadline := time.Now().Add(5 * time.Second)
	for n.BadMessages() < uint64(len(bad)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d malformed messages counted, want %d", n.BadMessages(), len(bad))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := scrape(t, n), fmt.Sprintf("parley_cluster_bad_messages_total %d\n", len(bad)); !strings.Contains(got, want) {
		t.Errorf("/metrics lacks %q:\n%s", want, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, local, err := n.Locate(ctx, "after"); err != nil || !local {
		t.Fatalf("Locate after garbage: local %v, err %v", local, err)
	}
}

// scrape is what a Prometheus scrape of n's cluster metrics reads, through
// the same handler type a node's /metrics serves.
func scrape(t *testing.T, n *Node) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(n.Collector())
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// TestFrameCodec: every frame kind round-trips; broken frames are refused.
func TestFrameCodec(t *testing.T) {
	for _, f := range []signaling.Frame{
		{Kind: signaling.FrameText, Data: []byte(`{"type":"join"}`)},
		{Kind: signaling.FrameBinary, Data: []byte{1, 2}},
		{Kind: signaling.FramePing}, {Kind: signaling.FramePong}, {Kind: signaling.FrameGone}, {Kind: signaling.FrameLost},
		{Kind: signaling.FrameClose, Code: 1008, Data: []byte("kicked")},
	} {
		got, err := decodeFrame(encodeFrame(f))
		if err != nil || got.Kind != f.Kind || got.Code != f.Code || string(got.Data) != string(f.Data) {
			t.Errorf("round trip of %+v: %+v, %v", f, got, err)
		}
	}
	for _, b := range [][]byte{nil, {0}, {99}, {byte(signaling.FrameClose), 3}, {byte(signaling.FramePing), 1}} {
		if _, err := decodeFrame(b); err == nil {
			t.Errorf("decodeFrame(%v) accepted", b)
		}
	}
}

// TestLoneNodeWithListenStarts: the first node of a cluster has a route
// listener and no peers yet; it must start and place rooms at once (its
// directory cannot answer before a peer routes to it). When a second node
// joins, the rooms the first served alone are claimed in the directory: the
// newcomer finds them there.
func TestLoneNodeWithListenStarts(t *testing.T) {
	host := &fakeHost{rooms: []signaling.RoomInfo{{Name: "first"}}, evicted: make(chan string, 1)}
	port := freePort(t)
	lone := startNode(t, Options{Name: "lone", Listen: fmt.Sprintf("127.0.0.1:%d", port)}, host)
	if !lone.Ready() {
		t.Fatal("a lone first node is not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if node, local, err := lone.Locate(ctx, "first"); err != nil || !local || node != "lone" {
		t.Fatalf("Locate = %q, %v, %v; want lone, local", node, local, err)
	}

	second := startNode(t, Options{Name: "second", Listen: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		Peers: []string{fmt.Sprintf("nats://127.0.0.1:%d", port)}}, &fakeHost{evicted: make(chan string, 1)})
	for !lone.DirectoryReady() || !second.DirectoryReady() {
		if ctx.Err() != nil {
			t.Fatal("the two nodes' directory is not ready after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The lone node claims its room as soon as the directory answers. A
	// Locate on the newcomer before that lands would place the room there
	// (someone joining through it in that instant: the documented split
	// brain, which evicts the lone copy; seen once in CI), so wait for the
	// claim first.
	claimed := func() bool {
		lone.dir.mu.Lock()
		defer lone.dir.mu.Unlock()
		c := lone.dir.owned["first"]
		return c != nil && c.rev > 0
	}
	for !claimed() {
		if ctx.Err() != nil {
			t.Fatal("the lone node never claimed its room in the directory")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		node, local, err := second.Locate(ctx, "first")
		if err == nil && node == "lone" && !local {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the newcomer locates the first node's room on %q (local %v, %v), want lone", node, local, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case r := <-host.evicted:
		t.Fatalf("the first node evicted %s", r)
	default:
	}
}

// startNode starts a node with its log in the test's.
func startNode(t *testing.T, o Options, host Host) *Node {
	t.Helper()
	o.Logger, _ = testlog.New(t, o.Name+" log")
	n, err := New(o, host)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatalf("node %s: %v", o.Name, err)
	}
	return n
}
