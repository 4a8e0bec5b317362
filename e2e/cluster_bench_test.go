package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
)

// BenchmarkClusterSignalRelay measures what entering through a node that
// does not hold the room costs signaling (docs/benchmarks.md): the round
// trip of a signal between two participants of one room, both on the room's
// node ("local"), or the second entering through another node ("relayed":
// each way crosses the link once). It reports the p50 and p99 round trip
// over 150 signals each way of measuring.
//
//	go test -run '^$' -bench BenchmarkClusterSignalRelay -benchtime 1x ./e2e
func BenchmarkClusterSignalRelay(b *testing.B) {
	// rounds stays inside the per-connection burst (200): past it the
	// server refuses signals (rate-limited) and the benchmark would
	// measure the limiter.
	const rounds = 150
	nodes := startCluster(b, 2, nil)
	for _, tc := range []struct {
		name  string
		entry int
	}{{"local", 0}, {"relayed", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				rtts := signalRoundTrips(b, nodes[0], nodes[tc.entry], "bench-"+tc.name, rounds)
				slices.Sort(rtts)
				b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// signalRoundTrips joins A through home (placing the room there) and B
// through entry, and times n signals A → B → A.
func signalRoundTrips(b *testing.B, home, entry *clusterNode, room string, n int) []time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := sigclient.Dial(ctx, home.wsURL(), room, "A")
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	c, err := sigclient.Dial(ctx, entry.wsURL(), room, "B")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() { // B echoes every signal
		for ev := range c.Events() {
			if ev.Type == "signal" {
				c.Signal(ev.From, ev.Data)
			}
		}
	}()
	var out []time.Duration
	for i := range n {
		start := time.Now()
		if err := a.Signal(c.ID(), map[string]int{"i": i}); err != nil {
			b.Fatal(err)
		}
		for ev := range a.Events() {
			if ev.Type == "signal" && string(ev.Data) == fmt.Sprintf(`{"i":%d}`, i) {
				break
			}
		}
		out = append(out, time.Since(start))
	}
	return out
}
