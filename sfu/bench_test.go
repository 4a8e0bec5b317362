package sfu

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// BenchmarkForward measures the SFU's own fan-out path for one incoming
// packet: the copy pion's Read does into the pooled buffer, header parse,
// key-frame check, dispatch to every subscriber's queue, and in each
// subscriber's writer the header rewrite and a marshal of the packet
// (standing in for pion's SRTP step, which is measured with the rest of
// pion by BenchmarkWritePion). One op = one 1200-byte VP8 packet in,
// forwarded to N subscribers. allocs/op counts every goroutine's
// allocations: the target is 0.
//
// The publisher is paced so that no queue overflows (a real one sends at
// network speed, not as fast as a loop can): ns/op is wall time on the
// machine's cores, ns/fwd that divided by N.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchForward(b, n) })
	}
}

func benchForward(b *testing.B, n int) {
	f := newFanout(b, n, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{} })
	payload := make([]byte, 1200)
	payload[0], payload[1] = 0x10, 0x00 // VP8 key frame start: opens every gate at once
	raw := rawPacket(b, 0, 0, payload)
	f.push(raw)
	waitFor(b, 5*time.Second, "warm-up", func() bool { return f.writers[0].n.Load() == 1 })
	payload[1] = 0x01
	raw = rawPacket(b, 1, 3000, payload) // then delta frames

	const slack = writeQueueLen / 2
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.push(raw)
		if i%64 == 63 {
			// Pace: let the slowest writer get within half a queue.
			for _, w := range f.writers {
				for w.n.Load() < int64(i+1-slack) {
					runtime.Gosched()
				}
			}
		}
	}
	for _, w := range f.writers {
		for w.n.Load() < int64(b.N+1) && f.srv.ctr.dropped.Load() == 0 {
			runtime.Gosched()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/fwd")
	b.ReportMetric(float64(f.srv.ctr.dropped.Load())/float64(b.N), "drops/op")
}

// BenchmarkWritePion measures what one forwarded packet costs in pion
// below the SFU: downTrack.write into the interceptor chain (NACK
// responder's send buffer, sender reports), SRTP encryption (AES-128-GCM
// negotiated) and the UDP send on loopback, toward a real subscriber. The
// subscriber never reads (its pion still decrypts), so it costs little CPU
// but shares the machine. One op = one 1200-byte packet to one subscriber.
//
// bwe=on is the default (transport-wide sequence numbers and gcc's
// bookkeeping on every packet, bwe.go); bwe=off is
// Config.NoBandwidthAdaptation, as before the estimate existed.
func BenchmarkWritePion(b *testing.B) {
	for _, kind := range []string{"video", "audio"} {
		for _, bwe := range []bool{false, true} {
			name := kind + "/bwe=off"
			if bwe {
				name = kind + "/bwe=on"
			}
			b.Run(name, func(b *testing.B) { benchWritePion(b, kind, Config{NoBandwidthAdaptation: !bwe}) })
		}
	}
}

func benchWritePion(b *testing.B, kind string, cfg Config) {
	s := newTestServerWith(b, cfg)
	pub := join(b, s, "r", "pub", clientOptions{publish: true})
	sub := join(b, s, "r", "sub", clientOptions{noRead: true})
	var d *downTrack
	waitFor(b, 10*time.Second, "the subscriber to get "+kind, func() bool {
		sub.ss.negMu.Lock()
		defer sub.ss.negMu.Unlock()
		for u, dt := range sub.ss.downs {
			if u.kind.String() == kind && dt.bind.Load() != nil {
				d = dt
			}
		}
		return d != nil && sub.ss.wstats.packets.Load() > 50
	})
	pub.paused.Store(true)
	// Let the writer go idle: after this, the benchmark goroutine is the
	// only one touching d (the atomic load orders it after the writer).
	for last := int64(-1); ; {
		time.Sleep(100 * time.Millisecond)
		n := int64(sub.ss.wstats.packets.Load())
		if n == last && len(sub.ss.queue) == 0 {
			break
		}
		last = n
	}
	payload := make([]byte, 1200)
	payload[0], payload[1] = 0x10, 0x01
	if kind == "audio" {
		payload = payload[:160]
	}
	p := s.pool.Get().(*packet)
	p.refs.Store(1 << 30) // never returned to the pool here
	raw := rawPacket(b, 0, 0, payload)
	n := copy(p.buf[:], raw)
	if !p.parse(n) {
		b.Fatal("parse")
	}
	p.keyframe = true // the first write switches d to this source: let it through
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.hdr.SequenceNumber = uint16(i)
		p.hdr.Timestamp = uint32(i) * 3000
		d.write(p)
	}
	b.StopTimer()
}

// BenchmarkForwardTemporal is BenchmarkForward with an L1T3 stream (TIDs
// 0, 2, 1, 2, one packet per frame) toward 10 subscribers, half of them
// limited to TID 0: the drops, the segments they start and the rewritten
// descriptors (temporal.go). allocs/op: the target is 0.
func BenchmarkForwardTemporal(b *testing.B) {
	const n = 10
	f := newFanout(b, n, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{} })
	for i, d := range *f.up.downs.Load() {
		if i%2 == 1 {
			d.ttarget.Store(0)
		}
	}
	payload := make([]byte, 1200)
	// X, S; I, L, T; 15-bit PictureID; TL0PICIDX; TID|Y; then the frame.
	copy(payload, []byte{0x90, 0xe0, 0x80, 0, 0, 0, 0x00})
	raw := rawPacket(b, 0, 0, payload)
	const hl = 12 // rawPacket's header: no CSRC, no extension
	frame := func(i int) {
		seq, pic := uint16(i), uint16(i)&0x7fff
		tid := [4]byte{0, 2, 1, 2}[i%4]
		raw[2], raw[3] = byte(seq>>8), byte(seq)
		ts := uint32(i) * 3000
		raw[4], raw[5], raw[6], raw[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		raw[hl+2], raw[hl+3] = 0x80|byte(pic>>8), byte(pic)
		raw[hl+4] = byte(i / 4)
		raw[hl+5] = tid << 6
		raw[hl+6] = 0x01 // a delta frame
		if i == 0 {
			raw[hl+6] = 0x00
		}
		f.push(raw)
	}
	frame(0)
	waitFor(b, 5*time.Second, "warm-up", func() bool { return f.writers[0].n.Load() == 1 })

	const slack = writeQueueLen / 2
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		frame(i)
		if i%64 == 0 {
			// Pace on the queues: a limited subscriber writes a quarter
			// of the packets, so its writes say nothing of its backlog.
			for _, ss := range f.subs {
				for len(ss.queue) > slack {
					runtime.Gosched()
				}
			}
		}
	}
	for _, ss := range f.subs {
		for len(ss.queue) > 0 {
			runtime.Gosched()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/fwd")
	b.ReportMetric(float64(f.srv.ctr.dropped.Load())/float64(b.N), "drops/op")
}
