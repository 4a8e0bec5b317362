package e2e

// The receiver's JS heap while a large file arrives over a data channel
// (docs/datachannels.md). A measurement, not a test: nothing fails on the figures.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsHeapSampler starts sampling the page's performance.memory every 200 ms
// into window.__heap ([used, total] pairs), after a full garbage collection
// when the page has gc() (--js-flags=--expose-gc), so the figure is what
// the page retains rather than what the collector has not yet freed.
const jsHeapSampler = `(() => {
  window.__heap = [];
  const m = () => {
    if (typeof gc === 'function') gc();
    window.__heap.push([performance.memory.usedJSHeapSize, performance.memory.totalJSHeapSize]);
  };
  m();
  window.__heapTimer = setInterval(m, 200);
  return true;
})()`

// jsHeapStop stops the sampler and returns the samples.
const jsHeapStop = `(() => { clearInterval(window.__heapTimer); return window.__heap; })()`

// BenchmarkLargeFileHeap sends a 500 MiB file (random bytes on disk, so the
// sender's File is disk-backed) from A to B in a mesh room of two, samples
// both pages' performance.memory every 200 ms while it travels (Chromium
// with --enable-precise-memory-info, so the figures are not bucketed), and
// checks B's download against the file's SHA-256:
//
//	go test ./e2e -run '^$' -bench BenchmarkLargeFileHeap -benchtime 1x -timeout 30m
//
// PARLEY_BENCH_FILE_MIB overrides the size (MiB); PARLEY_BENCH_HEAP_GC=1
// collects garbage before every sample (retained heap, not peak heap).
func BenchmarkLargeFileHeap(b *testing.B) {
	mib := 500
	opts := []browsertest.Option{browsertest.WithFlag("enable-precise-memory-info", true)}
	if os.Getenv("PARLEY_BENCH_HEAP_GC") == "1" {
		opts = append(opts, browsertest.WithFlag("js-flags", "--expose-gc"))
	}
	if s := os.Getenv("PARLEY_BENCH_FILE_MIB"); s != "" {
		if _, err := fmt.Sscan(s, &mib); err != nil || mib < 1 {
			b.Fatalf("PARLEY_BENCH_FILE_MIB=%q: want a positive number", s)
		}
	}
	path, want := bigFile(b, mib)
	ts := testserver.Start(b, func(c *config.Config) { c.MeshMax = 6 })
	br := browsertest.New(b, opts...)
	room := browserRoom("bench-heap")
	pages := map[string]*browsertest.Page{}
	for _, n := range []string{"A", "B"} {
		pages[n] = br.NewPage(b, browserRoomURL(ts, room, n))
	}
	for _, n := range []string{"A", "B"} {
		if _, err := pages[n].WaitFor(fmt.Sprintf(jsInCall, "mesh", 1, "mesh"), switchTimeout); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sendFile(b, pages["A"], "B", path)
		if _, err := pages["B"].WaitFor(`!!document.querySelector('.transfer[data-dir="in"][data-state="offered"] .accept:not([hidden])')`, dataTimeout); err != nil {
			b.Fatal(err)
		}
		for _, n := range []string{"A", "B"} {
			browsertest.MustEval[bool](pages[n], jsHeapSampler)
		}
		b.StartTimer()
		start := time.Now()
		if err := pages["B"].Click(`.transfer[data-dir="in"][data-state="offered"] .accept`); err != nil {
			b.Fatal(err)
		}
		if _, err := pages["B"].WaitFor(fmt.Sprintf(`parley.files().filter((f) => f.dir === 'in' && f.state === 'done').length === %d`, i+1), 30*time.Minute); err != nil {
			b.Fatal(err)
		}
		secs := time.Since(start).Seconds()
		b.StopTimer()
		heap := map[string][][2]float64{}
		for _, n := range []string{"A", "B"} {
			heap[n] = browsertest.MustEval[[][2]float64](pages[n], jsHeapStop)
		}
		got := browsertest.MustEval[string](pages["B"], jsDownloadSHA)
		if got != want {
			b.Fatalf("B's download has SHA-256 %s, want %s", got, want)
		}
		b.ReportMetric(float64(mib)/secs, "MiB/s")
		for _, n := range []string{"A", "B"} {
			s := heap[n]
			base, peak, peakTotal := s[0][0], 0.0, 0.0
			distinct := map[float64]bool{}
			for _, v := range s {
				peak = max(peak, v[0])
				peakTotal = max(peakTotal, v[1])
				distinct[v[0]] = true
			}
			b.ReportMetric(peak/(1<<20), n+"-peak-heap-MiB")
			b.ReportMetric((peak-base)/(1<<20), n+"-heap-growth-MiB")
			b.Logf("%s: %d samples (%d distinct), used heap %.1f MiB at accept, peak %.1f MiB; total heap peak %.1f MiB",
				n, len(s), len(distinct), base/(1<<20), peak/(1<<20), peakTotal/(1<<20))
			var course []string // used heap at each tenth of the transfer
			for q := 1; q <= 10; q++ {
				course = append(course, fmt.Sprintf("%.1f", s[(len(s)-1)*q/10][0]/(1<<20)))
			}
			b.Logf("%s: used heap (MiB) at each tenth of the transfer: %s", n, strings.Join(course, " "))
		}
		b.Logf("%d MiB in %.1f s, SHA-256 verified (%s); %s", mib, secs, want[:16], loadAvg())
	}
}

// bigFile writes mib MiB of random bytes to a temporary file, 1 MiB at a
// time, and returns its path and SHA-256.
func bigFile(b *testing.B, mib int) (string, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "large.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for range mib {
		if _, err := rand.Read(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.MultiWriter(f, h).Write(buf); err != nil {
			b.Fatalf("writing %s: %v", path, err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}
