package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
	"github.com/parleyhq/parley/signaling"
)

// Several nodes as one service (docs/cluster.md): pion participants enter
// one room through different nodes and must meet on the room's node.

// clusterJoin adds a pion participant through node n's front door.
func clusterJoin(t *testing.T, ctx context.Context, log *slog.Logger, n *clusterNode, room, name string) *pionpeer.Peer {
	t.Helper()
	p, err := pionpeer.Join(ctx, pionpeer.Config{
		URL: n.wsURL(), Room: room, Name: name,
		VideoBitrate: meshVideoBitrate, FrameRate: sfuFrameRate, AudioPacketTime: sfuAudioPacketTime,
		Logger: log.With("who", name),
	})
	if err != nil {
		t.Fatalf("join %s through %s: %v", name, n.name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func peerLogs(t *testing.T) *slog.Logger {
	logs := &testlog.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("participant logs:\n%s", logs.String())
		}
	})
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestClusterMeshThroughThreeNodes: three participants enter one room
// through three different nodes; the room lives on one node, the other two
// relay, and all three receive each other's media in a mesh. The admin API
// of a node that does not hold the room lists it with its node.
func TestClusterMeshThroughThreeNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := startCluster(t, 3, nil)
	log := peerLogs(t)
	room := "cluster-mesh"
	var peers []*pionpeer.Peer
	for i, n := range nodes {
		p := clusterJoin(t, ctx, log, n, room, fmt.Sprintf("P%d", i))
		if got := len(p.Welcome().Peers); got != i {
			t.Fatalf("P%d's welcome through %s lists %d peers, want %d", i, n.name, got, i)
		}
		peers = append(peers, p)
	}
	meshPoll(t, 30*time.Second, func() string { return missingMedia(peers) })
	checkHealthy(t, peers, true)
	holder, count := roomNode(nodes, room)
	if count != 1 {
		t.Fatalf("room held by %d nodes, want 1", count)
	}
	checkClusterMetrics(t, holder, 3)
	for _, n := range nodes {
		if n == holder {
			continue
		}
		rooms := clusterAdminRooms(t, n)
		if len(rooms) != 1 || rooms[0].Name != room || rooms[0].Node != holder.name || len(rooms[0].Peers) != 3 {
			t.Fatalf("%s's admin API lists %+v, want %s on %s with 3 participants", n.name, rooms, room, holder.name)
		}
	}
}

// checkClusterMetrics asserts that holder's /metrics counts k live nodes
// and one room with 3 participants on holder (from its own load report,
// published every second).
func checkClusterMetrics(t *testing.T, holder *clusterNode, k int) {
	t.Helper()
	meshPoll(t, 5*time.Second, func() string {
		rec := httptest.NewRecorder()
		holder.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		for _, want := range []string{
			fmt.Sprintf("parley_cluster_nodes %d", k),
			fmt.Sprintf(`parley_cluster_rooms{node=%q} 1`, holder.name),
			fmt.Sprintf(`parley_cluster_participants{node=%q} 3`, holder.name),
			"parley_cluster_directory_ready 1",
			"parley_cluster_bad_messages_total 0",
		} {
			if !strings.Contains(body, want) {
				return "metrics lack " + want
			}
		}
		return ""
	})
}

// clusterAdminRooms is GET /api/admin/rooms on n.
func clusterAdminRooms(t *testing.T, n *clusterNode) []signaling.RoomInfo {
	t.Helper()
	req, _ := http.NewRequest("GET", n.url+"/api/admin/rooms", nil)
	req.Header.Set("Authorization", "Bearer "+testserver.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Rooms []signaling.RoomInfo }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Rooms
}

// TestClusterSFUAndFailover: with mesh_max 2, three participants entering
// through three nodes switch the room to SFU on its node and media flows
// through that SFU. Then the room's node dies without a word: the
// participants reconnect through the surviving nodes, the room is placed
// again, and media flows through the new node's SFU within 15 s.
func TestClusterSFUAndFailover(t *testing.T) {
	sfuAndFailover(t, startCluster(t, 3, func(_ int, c *config.Config) { c.MeshMax = 2 }))
}

// sfuAndFailover is TestClusterSFUAndFailover on nodes (three, mesh_max 2).
func sfuAndFailover(t *testing.T, nodes []*clusterNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	log := peerLogs(t)
	room := "cluster-sfu"
	var peers []*pionpeer.Peer
	for i, n := range nodes {
		peers = append(peers, clusterJoin(t, ctx, log, n, room, fmt.Sprintf("P%d", i)))
	}
	meshPoll(t, 30*time.Second, func() string {
		if m := wrongMode(peers, "sfu"); m != "" {
			return m
		}
		return missingVia(peers, pionpeer.PathSFU, nil)
	})
	holder, count := roomNode(nodes, room)
	if count != 1 {
		t.Fatalf("room held by %d nodes, want 1", count)
	}
	t.Logf("room on %s in SFU mode; killing it", holder.name)

	killed := time.Now()
	live := holder.kill(nodes)
	base := snapshotVia(peers, pionpeer.PathSFU)
	// The 15 s of docs/cluster.md count from the kill, not from its end.
	meshPoll(t, time.Until(killed.Add(15*time.Second)), func() string {
		if h, k := roomNode(live, room); k != 1 {
			return fmt.Sprintf("room held by %d surviving nodes", k)
		} else if p := missingVia(peers, pionpeer.PathSFU, base); p != "" {
			return fmt.Sprintf("room on %s: %s", h.name, p)
		}
		return ""
	})
	t.Logf("media back through the SFU of a surviving node %v after the kill", time.Since(killed).Round(time.Millisecond))
}

// TestClusterPlacementRace: two nodes asked at once to place the same new
// rooms agree on one owner for each.
func TestClusterPlacementRace(t *testing.T) {
	placementRace(t, startCluster(t, 2, nil))
}

// placementRace is TestClusterPlacementRace on nodes (two).
func placementRace(t *testing.T, nodes []*clusterNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		room := fmt.Sprintf("race-%d", i)
		type answer struct {
			node string
			err  error
		}
		answers := make(chan answer, 2)
		for _, n := range nodes {
			go func() {
				owner, _, err := n.srv.Cluster().Locate(ctx, room)
				answers <- answer{owner, err}
			}()
		}
		a, b := <-answers, <-answers
		if a.err != nil || b.err != nil || a.node != b.node {
			t.Fatalf("%s: answers %+v and %+v, want one owner", room, a, b)
		}
	}
}

// TestClusterWrongSecret: a node whose route secret differs is refused by
// the cluster and logs why (its routes meet "Authorization Violation"); no
// node counts it as a member.
func TestClusterWrongSecret(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	port := freeTCPPort(t)
	var peers []string
	for _, n := range nodes {
		peers = append(peers, "nats://"+n.routeAddr(t))
	}
	intruder := startNode(t, "intruder", func(c *config.Config) {
		c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", port)
		c.Cluster.Peers = peers
		c.Cluster.Secret = "not-the-secret"
	})
	meshPoll(t, 20*time.Second, func() string {
		if strings.Contains(intruder.logs.String(), "Authorization Violation") {
			return ""
		}
		return "the intruder did not log why its routes were refused"
	})
	time.Sleep(3 * time.Second) // three load reports: the intruder would be heard by now
	for _, n := range nodes {
		if m := n.srv.Cluster().Members(); m != 2 {
			t.Errorf("%s hears %d nodes, want 2 (intruder refused)", n.name, m)
		}
	}
	if m := intruder.srv.Cluster().Members(); m > 1 {
		t.Errorf("intruder hears %d nodes", m)
	}
}

// TestClusterExternalNATS: nodes that share an external NATS server
// (started here from the nats-server Go module, as an operator's would run)
// instead of embedding their own, in the scenarios of the embedded tests:
// participants entering through two nodes meet in a mesh; an SFU room whose
// node dies is back on a surviving node within 15 s; two nodes racing to
// place the same rooms agree on one owner for each.
func TestClusterExternalNATS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nodes  int
		mutate func(*config.Config)
		run    func(*testing.T, []*clusterNode)
	}{
		{"mesh", 2, nil, externalMesh},
		{"sfu-and-failover", 3, func(c *config.Config) { c.MeshMax = 2 }, sfuAndFailover},
		{"placement-race", 2, nil, placementRace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, startExternalCluster(t, tc.nodes, tc.mutate))
		})
	}
}

// startExternalCluster runs k nodes on one external NATS server, each behind
// a front door, and waits until every node is ready and hears all k.
func startExternalCluster(t *testing.T, k int, mutate func(*config.Config)) []*clusterNode {
	t.Helper()
	url := startExternalNATS(t, "external-secret")
	var nodes []*clusterNode
	for i := range k {
		nodes = append(nodes, startNode(t, fmt.Sprintf("ext%d", i), func(c *config.Config) {
			c.Cluster.NATSURL = url
			c.Cluster.Secret = "external-secret"
			if mutate != nil {
				mutate(c)
			}
		}))
	}
	addFrontDoors(t, nodes)
	waitClusterReady(t, nodes, k)
	return nodes
}

// externalMesh: participants entering through both nodes meet in a mesh on
// one of them.
func externalMesh(t *testing.T, nodes []*clusterNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	log := peerLogs(t)
	var peers []*pionpeer.Peer
	for i, n := range nodes {
		peers = append(peers, clusterJoin(t, ctx, log, n, "external", fmt.Sprintf("P%d", i)))
	}
	meshPoll(t, 30*time.Second, func() string { return missingMedia(peers) })
	checkHealthy(t, peers, true)
	if _, count := roomNode(nodes, "external"); count != 1 {
		t.Fatalf("room held by %d nodes, want 1", count)
	}
}

// startExternalNATS runs a stand-alone NATS server with JetStream on a
// loopback port, user parley with password secret, and returns its URL.
func startExternalNATS(t *testing.T, secret string) string {
	t.Helper()
	log, _ := testlog.New(t, "external nats log")
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "external", Host: "127.0.0.1", Port: natsserver.RANDOM_PORT,
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Username: "parley", Password: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.SetLoggerV2(natsTestLogger{log}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("external nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// natsTestLogger passes the external server's log to the test's.
type natsTestLogger struct{ log *slog.Logger }

func (l natsTestLogger) Noticef(f string, v ...any) { l.log.Info(fmt.Sprintf(f, v...)) }
func (l natsTestLogger) Warnf(f string, v ...any)   { l.log.Warn(fmt.Sprintf(f, v...)) }
func (l natsTestLogger) Fatalf(f string, v ...any)  { l.log.Error(fmt.Sprintf(f, v...)) }
func (l natsTestLogger) Errorf(f string, v ...any)  { l.log.Error(fmt.Sprintf(f, v...)) }
func (l natsTestLogger) Debugf(f string, v ...any)  { l.log.Debug(fmt.Sprintf(f, v...)) }
func (l natsTestLogger) Tracef(f string, v ...any)  {}

// TestClusterResumeThroughAnotherNode: a participant whose WebSocket drops
// comes back through a different node and resumes (same id, resumed
// welcome): its resume token is checked where the room lives. The node it
// first came through is alive all along; only the way to it is cut.
func TestClusterResumeThroughAnotherNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := startCluster(t, 3, nil)
	log := peerLogs(t)
	room := "cluster-resume"
	a := clusterJoin(t, ctx, log, nodes[0], room, "A")
	b := clusterJoin(t, ctx, log, nodes[1], room, "B")
	meshPoll(t, 30*time.Second, func() string { return missingMedia([]*pionpeer.Peer{a, b}) })
	holder, _ := roomNode(nodes, room)
	// Cut B's way to its node, on B's front door only: B reconnects
	// through the next node.
	entry := nodes[1]
	entry.front.cut(entry)
	meshPoll(t, 20*time.Second, func() string {
		recs := b.Reconnections()
		if len(recs) == 0 || recs[len(recs)-1].Back.IsZero() {
			return "B has not reconnected"
		}
		if r := recs[len(recs)-1]; !r.Resumed || r.ID != r.OldID {
			return fmt.Sprintf("B came back without resuming: %+v", r)
		}
		return ""
	})
	if h, count := roomNode(nodes, room); count != 1 || h != holder {
		t.Fatalf("room moved: held by %d nodes", count)
	}
	checkHealthy(t, []*pionpeer.Peer{a, b}, true)
}
