package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
)

// The idle-participant measurement ("server memory per idle
// connected participant: 1,000 pion-free WebSocket clients that joined rooms
// of 5"), also "idle participants per GiB" (target ≤ 64 KiB each,
// docs/benchmarks.md "Targets of the load test").
const (
	idleParticipants = 1000
	idleRoomSize     = 5
	// idleDialers bounds concurrent joins: enough to fill the server in
	// a second or two, few enough to stay inside its per-connection
	// budgets and the machine's accept backlog.
	idleDialers = 50
	// idleSettle is how long the connections sit idle before the reading:
	// two heartbeat rounds (4 s pings), so the per-connection timers and
	// buffers a real idle participant costs are all in place.
	idleSettle = 9 * time.Second
)

// BenchmarkIdleParticipants runs the real parley binary as its own process
// on 127.0.0.1, joins 1,000 signaling-only clients in 200 rooms of 5, and
// reports the growth of the server's resident memory (VmRSS from
// /proc/PID/status) per participant. It is a measurement, not a timed loop:
//
//	go test ./e2e -run '^$' -bench IdleParticipants -benchtime 1x
func BenchmarkIdleParticipants(b *testing.B) {
	if err := raiseFileLimit(2*idleParticipants + 256); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "parley")
	build := exec.Command("go", "build", "-o", bin, "github.com/parleyhq/parley/cmd/parley")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/parley: %v\n%s", err, out)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		b.Fatal(err)
	}
	var serverLog bytes.Buffer
	srv := exec.Command(bin, "--http", addr, "--turn", "off", "--log-level", "warn")
	srv.Stdout, srv.Stderr = &serverLog, &serverLog
	if err := srv.Start(); err != nil {
		b.Fatalf("start parley: %v", err)
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
		if b.Failed() {
			b.Logf("server output:\n%s", serverLog.String())
		}
	}()
	baseURL := "http://" + addr
	if err := waitHealthy(baseURL, 10*time.Second); err != nil {
		b.Fatal(err)
	}
	pid := srv.Process.Pid

	time.Sleep(time.Second) // let start-up allocations settle
	rssBefore, err := readVmRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	heapBefore, heapOK := readHeapMetric(baseURL)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	clients, err := joinIdle(ctx, "ws://"+addr+"/ws")
	defer func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { _ = c.Close() })
		}
		wg.Wait()
	}()
	if err != nil {
		b.Fatal(err)
	}
	joinTime := time.Since(start)

	time.Sleep(idleSettle)
	for _, c := range clients {
		if err := c.Err(); err != nil {
			b.Fatalf("a participant was disconnected while idle: %v", err)
		}
	}
	rssAfter, err := readVmRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	perRSS := float64(rssAfter-rssBefore) / idleParticipants
	b.ReportMetric(perRSS, "RSS-KiB/participant")
	b.ReportMetric(float64(rssAfter), "RSS-KiB-total")
	b.Logf("server VmRSS %d KiB idle, %d KiB with %d participants in %d rooms: %.1f KiB per participant (joined in %v)",
		rssBefore, rssAfter, idleParticipants, idleParticipants/idleRoomSize, perRSS, joinTime.Round(time.Millisecond))
	if heapAfter, ok := readHeapMetric(baseURL); ok && heapOK {
		perHeap := (heapAfter - heapBefore) / 1024 / idleParticipants
		b.ReportMetric(perHeap, "heap-KiB/participant")
		b.Logf("server Go heap in use %.0f → %.0f KiB: %.1f KiB per participant", heapBefore/1024, heapAfter/1024, perHeap)
	} else {
		b.Logf("server exposes no go_memstats_heap_inuse_bytes on /metrics; RSS only")
	}
}

// joinIdle connects idleParticipants clients in rooms of idleRoomSize.
func joinIdle(ctx context.Context, wsURL string) ([]*sigclient.Client, error) {
	clients := make([]*sigclient.Client, idleParticipants)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	sem := make(chan struct{}, idleDialers)
	for i := range idleParticipants {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			room := fmt.Sprintf("idle-%03d", i/idleRoomSize)
			c, err := sigclient.Dial(ctx, wsURL, room, fmt.Sprintf("idle %d", i))
			if err != nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("participant %d: %w", i, err) })
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	joined := clients[:0]
	for _, c := range clients {
		if c != nil {
			joined = append(joined, c)
		}
	}
	return joined, firstErr
}

// raiseFileLimit lifts RLIMIT_NOFILE's soft limit to at least need (up to
// the hard limit, or beyond it when privileged). The server process started
// afterwards inherits it.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		lim.Max = need // only root may raise the hard limit
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open-file limit to %d (ulimit -n): %w", need, err)
	}
	return nil
}

// freeLoopbackAddr picks a free TCP port on 127.0.0.1.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(baseURL string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(baseURL + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s not healthy after %v: %v", baseURL, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readVmRSS returns a process's resident set size in KiB.
func readVmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read server memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// readHeapMetric reads go_memstats_heap_inuse_bytes from the server's
// Prometheus /metrics, if it has one.
func readHeapMetric(baseURL string) (float64, bool) {
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}
