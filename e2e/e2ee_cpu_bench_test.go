package e2e

// The CPU a mesh call with end-to-end encryption costs the browser,
// compared with the same call unencrypted (docs/benchmarks.md). A measurement, not a
// test: nothing fails on the figures.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// cpuWindow is how long BenchmarkE2EEMeshCPU measures each call.
const cpuWindow = 15 * time.Second

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat (100 on every Linux the project runs on).
const clockTicks = 100

// BenchmarkE2EEMeshCPU opens N pages (6, 4 and 3; low quality, fake camera
// and microphone) in one mesh room, waits until every page decodes N−1 remote
// tiles, and measures for 15 s the CPU time of all the browser's processes
// (utime + stime from /proc) and the video frames the pages decoded, once
// with end-to-end encryption and once in a room the configuration allows
// unencrypted (e2ee.unencrypted_rooms):
//
//	go test ./e2e -run '^$' -bench BenchmarkE2EEMeshCPU -benchtime 1x -timeout 20m
//
// Reported per sub-benchmark: cpu-s/s (the whole browser), cpu-ms/s/page,
// frames/s (decoded, all pages) and cpu-µs/frame. On a 2-core machine 4
// pages already saturate it; there cpu-µs/frame is the comparable figure.
func BenchmarkE2EEMeshCPU(b *testing.B) {
	for _, n := range []int{6, 4, 3} {
		for _, e2ee := range []bool{true, false} {
			name := fmt.Sprintf("pages=%d/e2ee=%s", n, map[bool]string{true: "on", false: "off"}[e2ee])
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					meshCPU(b, n, e2ee)
				}
			})
		}
	}
}

// meshCPU runs one call of n pages and reports its figures.
func meshCPU(b *testing.B, n int, e2ee bool) {
	b.StopTimer()
	ts := testserver.Start(b, func(c *config.Config) {
		c.MeshMax = 6
		c.E2EE.UnencryptedRooms = []string{"plain-*"}
	})
	dir := b.TempDir()
	br := browsertest.New(b, browsertest.WithFlag("user-data-dir", dir))
	room := browserRoom("bench-cpu")
	if !e2ee {
		room = browserRoom("plain-bench-cpu")
	}
	secret := roomSecret()
	pages := make([]*browsertest.Page, n)
	for i := range pages {
		url := browserRoomURL(ts, room, fmt.Sprintf("P%d", i))
		if e2ee {
			url = e2eeRoomURL(ts, room, fmt.Sprintf("P%d", i), secret)
		}
		pages[i] = br.NewPage(b, url)
	}
	everyTile := fmt.Sprintf(`(() => {
  const f = Object.values(%s);
  return f.length === %d && f.every((n) => n > 0);
})()`, jsRemoteFrames, n-1)
	for _, p := range pages {
		if _, err := p.WaitFor(everyTile, 3*time.Minute); err != nil {
			b.Fatalf("not every tile decodes: %v", err)
		}
	}
	if e2ee {
		for _, p := range pages {
			if _, err := p.WaitFor(`!!parley.e2ee()`, time.Minute); err != nil {
				b.Fatalf("encryption is not on: %v", err)
			}
		}
	}
	time.Sleep(3 * time.Second) // let the joins' key frames and bitrate ramp settle

	decoded := func() float64 {
		var sum float64
		for _, p := range pages {
			for _, v := range browsertest.MustEval[map[string]float64](p, jsDecodedPerPeer) {
				sum += v
			}
		}
		return sum
	}
	cpu, frames, elapsed := measureCPU(b, dir, decoded)
	b.ReportMetric(cpu/elapsed, "cpu-s/s")
	b.ReportMetric(1000*cpu/elapsed/float64(n), "cpu-ms/s/page")
	b.ReportMetric(frames/elapsed, "frames/s")
	if frames > 0 {
		b.ReportMetric(1e6*cpu/frames, "cpu-µs/frame")
	}
	b.Logf("%d pages, e2ee %v: %.2f CPU-s in %.1f s, %.0f frames decoded; %s",
		n, e2ee, cpu, elapsed, frames, loadAvg())
}

// measureCPU measures for cpuWindow (the benchmark's timer running) the CPU
// the browser started with --user-data-dir dir takes, in seconds, and how
// much count grew, over elapsed seconds.
func measureCPU(b *testing.B, dir string, count func() float64) (cpu, grew, elapsed float64) {
	n0, c0, start := count(), browserCPU(b, dir), time.Now()
	b.StartTimer()
	time.Sleep(cpuWindow)
	b.StopTimer()
	n1, c1 := count(), browserCPU(b, dir)
	elapsed = time.Since(start).Seconds()
	var ticks int64
	for pid, t := range c1 {
		ticks += t - c0[pid] // a process that started in the window counts from 0
	}
	return float64(ticks) / clockTicks, n1 - n0, elapsed
}

// browserCPU maps every process of the browser started with --user-data-dir
// dir (the browser and its descendants) to its utime + stime in clock ticks.
func browserCPU(b *testing.B, dir string) map[string]int64 {
	b.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	parent := map[string]string{}
	ticks := map[string]int64{}
	var roots []string
	for _, e := range entries {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			continue // exited
		}
		// Fields after the command name, which may hold spaces: state ppid … utime(14) stime(15).
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		parent[pid] = f[1]
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks[pid] = ut + st
		cmd, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if strings.Contains(string(cmd), "--user-data-dir="+dir) {
			roots = append(roots, pid)
		}
	}
	if len(roots) == 0 {
		b.Fatalf("no process runs with --user-data-dir=%s", dir)
	}
	in := map[string]bool{}
	for _, r := range roots {
		in[r] = true
	}
	for changed := true; changed; {
		changed = false
		for pid, pp := range parent {
			if !in[pid] && in[pp] {
				in[pid], changed = true, true
			}
		}
	}
	out := map[string]int64{}
	for pid := range in {
		out[pid] = ticks[pid]
	}
	return out
}

// loadAvg returns /proc/loadavg's first three figures, for the log.
func loadAvg() string {
	s, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(s))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}
