package signaling

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"

	"golang.org/x/time/rate"
)

// BenchmarkDispatchSignal measures what the server does for one relayed
// `signal` between two participants of a room, after the WebSocket read:
// decode and validate, the joined check, the room lookup under the hub's
// lock, encoding the relayed message with `from`, and queueing it on the
// recipient. The recipient's queue is drained by the benchmark, standing in
// for its writer. One op = one message relayed.
func BenchmarkDispatchSignal(b *testing.B) {
	h := NewHub(Options{
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimit: rate.Limit(math.Inf(1)), // the budget is not what is measured
		SendQueue: 16,
	})
	from, to := newConn(h, nil, "bench-a"), newConn(h, nil, "bench-b")
	for i, c := range []*conn{from, to} {
		c.handle(fmt.Appendf(nil, `{"type":"join","v":1,"room":"bench","name":"p%d"}`, i))
	}
	drain := func(c *conn) {
		for len(c.out) > 0 {
			<-c.out
		}
	}
	drain(from)
	drain(to)
	if to.id == "" || from.room == nil || from.room != to.room {
		b.Fatal("join failed")
	}
	frame := fmt.Appendf(nil, `{"type":"signal","to":%q,"data":{"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}}`, to.id)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		from.handle(frame)
		select {
		case <-to.out:
		default:
			b.Fatal("nothing relayed")
		}
	}
}
