package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// BenchmarkClusterKill9 measures failover with real processes
// (docs/benchmarks.md "Several nodes"): each trial starts three parley
// processes as one cluster (embedded NATS routes on loopback, mesh_max 2),
// puts three pion participants in one room through three front doors, and
// once the room's SFU carries everyone's media, kills the room's node with
// SIGKILL. It times the kill to the moment every participant receives every
// other's audio and video again through a surviving node's SFU, and reports
// the median, p90 and max over b.N trials. The front doors stop sending to
// the dead node at once, as a load balancer that retries a refused
// connection on the next backend does.
//
//	go test -run '^$' -bench BenchmarkClusterKill9 -benchtime 10x ./e2e
//
// (Go runs one trial first, then the ten; the figures are the ten's.)
//
// PARLEY_BIN names a built binary; without it the benchmark builds one.
func BenchmarkClusterKill9(b *testing.B) {
	bin := parleyBinary(b)
	var times []time.Duration
	for i := range b.N {
		d := killTrial(b, bin, fmt.Sprintf("kill-%d", i))
		b.Logf("trial %d: media back %v after kill -9", i+1, d.Round(time.Millisecond))
		times = append(times, d)
	}
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) }
	b.ReportMetric(ms(times[len(times)/2]), "median-ms")
	b.ReportMetric(ms(times[(len(times)*9+9)/10-1]), "p90-ms")
	b.ReportMetric(ms(times[len(times)-1]), "max-ms")
}

// parleyBinary is $PARLEY_BIN, or cmd/parley built into a temporary
// directory.
func parleyBinary(b *testing.B) string {
	if bin := os.Getenv("PARLEY_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/parleyhq/parley/cmd/parley").CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/parley: %v\n%s", err, out)
	}
	return bin
}

// procNode is a parley process of a trial's cluster.
type procNode struct {
	*clusterNode
	cmd  *exec.Cmd
	done chan struct{}
	log  *testlog.Buffer // the process's output, written by exec's copier
}

// freeUDPPort returns a loopback UDP port free a moment ago.
func freeUDPPort(b testing.TB) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startProcCluster starts three parley processes routed to each other,
// each behind a front door, and waits until all three are ready.
func startProcCluster(b *testing.B, bin string) []*procNode {
	routes := []int{freeTCPPort(b), freeTCPPort(b), freeTCPPort(b)}
	var nodes []*procNode
	for i := range routes {
		name := fmt.Sprintf("p%d", i)
		addr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(b))
		cmd := exec.Command(bin, "--node-name", name, "--http", addr, "--turn", "off", "--metrics", "off",
			"--sfu-loopback=true", "--sfu-port", fmt.Sprint(freeUDPPort(b)), "--mesh-max", "2", "--log-level", "info",
			"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", routes[i]), "--cluster-peers", strings.Join(routePeers(routes, i), ","))
		cmd.Env = append(os.Environ(), "PARLEY_ADMIN_TOKEN="+testserver.AdminToken, "PARLEY_CLUSTER_SECRET=bench-route-secret")
		log := &testlog.Buffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			b.Fatalf("start %s: %v", name, err)
		}
		n := &procNode{clusterNode: &clusterNode{name: name, url: "http://" + addr}, cmd: cmd, done: make(chan struct{}), log: log}
		go func() { cmd.Wait(); close(n.done) }()
		b.Cleanup(func() { n.stop(b) })
		nodes = append(nodes, n)
	}
	var cns []*clusterNode
	for _, n := range nodes {
		cns = append(cns, n.clusterNode)
	}
	addFrontDoors(b, cns)
	waitClusterReady(b, cns, 3)
	return nodes
}

// stop ends a process that is still running, gracefully if it will.
func (n *procNode) stop(b *testing.B) {
	select {
	case <-n.done:
	default:
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
	}
	if b.Failed() {
		b.Logf("%s output:\n%s", n.name, n.log.String())
	}
}

// roomHolder asks n's admin API which node holds room.
func roomHolder(n *clusterNode, room string) (string, error) {
	req, _ := http.NewRequest("GET", n.url+"/api/admin/rooms/"+room, nil)
	req.Header.Set("Authorization", "Bearer "+testserver.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct{ Node string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("room %s: HTTP %d %v", room, resp.StatusCode, err)
	}
	return r.Node, nil
}

// killTrial runs one trial and returns the time from the kill to media
// flowing again through a surviving node's SFU.
func killTrial(b *testing.B, bin, room string) time.Duration {
	nodes := startProcCluster(b, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var peers []*pionpeer.Peer
	for i, n := range nodes {
		name := fmt.Sprintf("P%d", i)
		p, err := pionpeer.Join(ctx, pionpeer.Config{
			URL: n.wsURL(), Room: room, Name: name,
			VideoBitrate: meshVideoBitrate, FrameRate: sfuFrameRate, AudioPacketTime: sfuAudioPacketTime,
		})
		if err != nil {
			b.Fatalf("join %s through %s: %v", name, n.name, err)
		}
		defer p.Close()
		peers = append(peers, p)
	}
	clusterPoll(b, 30*time.Second, func() string {
		if m := wrongMode(peers, "sfu"); m != "" {
			return m
		}
		return missingVia(peers, pionpeer.PathSFU, nil)
	})
	name, err := roomHolder(nodes[0].clusterNode, room)
	if err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(nodes, func(n *procNode) bool { return n.name == name })
	if i < 0 {
		b.Fatalf("room on unknown node %q", name)
	}
	holder := nodes[i]
	base := snapshotVia(peers, pionpeer.PathSFU)
	killed := time.Now()
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		b.Fatal(err)
	}
	for _, n := range nodes {
		n.front.cut(holder.clusterNode)
	}
	clusterPoll(b, 40*time.Second, func() string {
		if m := wrongMode(peers, "sfu"); m != "" {
			return m
		}
		return missingVia(peers, pionpeer.PathSFU, base)
	})
	return time.Since(killed)
}
