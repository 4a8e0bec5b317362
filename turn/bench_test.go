package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchPayload is a typical video RTP packet size.
const benchPayload = 1200

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// echoPeer answers every datagram back to its sender without allocating,
// until the socket is closed.
func echoPeer(conn *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if _, err := conn.WriteToUDPAddrPort(buf[:n], from); err != nil {
			return
		}
	}
}

// BenchmarkRelay measures relay forwarding on loopback: each iteration is
// a ping-pong client → relay → peer → relay → client, i.e. two relayed
// datagrams, over a bound channel (what browsers use). The client and peer
// use non-allocating socket calls, so allocs/op are the server's (pion's
// per-packet allocations plus Parley's, which should be none).
// srv-cpu-ns/pkt is the server's share of the process CPU per relayed
// datagram: total CPU minus BenchmarkLoopbackBaseline's client+peer cost,
// halved. Run both with -benchtime=20000x or more for stable figures.
func BenchmarkRelay(b *testing.B) {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	go echoPeer(peer)

	cfg := baseConfig()
	cfg.UDPSockets = 0 // the default: one per CPU
	cfg.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.SelfPorts = []uint16{portOfAddr(peer.LocalAddr())}
	s := startServer(b, cfg, nil)
	u, p := creds(s, "bench")
	c := newRawClient(b, s, u, p)
	if _, err := c.allocate(); err != nil {
		b.Fatal(err)
	}
	const channel = 0x4000
	if err := c.channelBind(channel, peerAttr("127.0.0.1", int(portOfAddr(peer.LocalAddr())))); err != nil {
		b.Fatal(err)
	}

	frame := make([]byte, 4+benchPayload)
	binary.BigEndian.PutUint16(frame, channel)
	binary.BigEndian.PutUint16(frame[2:], benchPayload)
	server := s.Addr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 2048)
	_ = c.conn.SetReadDeadline(time.Time{})

	roundTrip := func() {
		if _, err := c.conn.WriteToUDPAddrPort(frame, server); err != nil {
			b.Fatal(err)
		}
		for {
			_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := c.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				b.Fatalf("lost a packet: %v", err)
			}
			if n == len(frame) && binary.BigEndian.Uint16(buf) == channel {
				return
			}
		}
	}
	for range 100 { // warm up
		roundTrip()
	}

	b.ReportAllocs()
	b.SetBytes(2 * benchPayload)
	b.ResetTimer()
	cpu0, start := cpuTime(b), time.Now()
	for range b.N {
		roundTrip()
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(start)
	b.StopTimer()
	pkts := float64(2 * b.N)
	b.ReportMetric(float64(cpu.Nanoseconds())/pkts, "proc-cpu-ns/pkt")
	b.ReportMetric(pkts/wall.Seconds(), "pkts/s")
}

// BenchmarkRelayThroughput pushes 1200-byte datagrams one way, client →
// relay → peer, as fast as the relay forwards them (a credit per datagram,
// 64 in flight, so socket buffers do not overflow), and reports the
// forwarding rate of one flow.
func BenchmarkRelayThroughput(b *testing.B) {
	const channel, inFlight = 0x4000, 64
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	credits := make(chan struct{}, inFlight)
	for range inFlight {
		credits <- struct{}{}
	}
	var received atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := peer.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			received.Add(1)
			select {
			case credits <- struct{}{}:
			default:
			}
		}
	}()
	cfg := baseConfig()
	cfg.UDPSockets = 0
	cfg.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.SelfPorts = []uint16{portOfAddr(peer.LocalAddr())}
	s := startServer(b, cfg, nil)
	u, p := creds(s, "bench")
	c := newRawClient(b, s, u, p)
	if _, err := c.allocate(); err != nil {
		b.Fatal(err)
	}
	if err := c.channelBind(channel, peerAttr("127.0.0.1", int(portOfAddr(peer.LocalAddr())))); err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 4+benchPayload)
	binary.BigEndian.PutUint16(frame, channel)
	binary.BigEndian.PutUint16(frame[2:], benchPayload)
	server := s.Addr().(*net.UDPAddr).AddrPort()
	lost := time.NewTimer(time.Hour)

	b.ReportAllocs()
	b.SetBytes(benchPayload)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		select {
		case <-credits:
		default:
			lost.Reset(10 * time.Millisecond) // a lost datagram never returns its credit
			select {
			case <-credits:
			case <-lost.C:
			}
		}
		if _, err := c.conn.WriteToUDPAddrPort(frame, server); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Second); received.Load() < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	wall := time.Since(start)
	b.StopTimer()
	got := received.Load()
	b.ReportMetric(float64(got)/wall.Seconds(), "pkts/s")
	b.ReportMetric(float64(got)*benchPayload*8/wall.Seconds()/1e6, "Mbit/s")
	b.ReportMetric(100*float64(int64(b.N)-got)/float64(b.N), "loss-%")
}

// BenchmarkLoopbackBaseline is BenchmarkRelay without the relay: the same
// client and peer doing the same ping-pong directly, so the difference is
// what the server costs.
func BenchmarkLoopbackBaseline(b *testing.B) {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	go echoPeer(peer)
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	msg := make([]byte, 4+benchPayload)
	buf := make([]byte, 2048)

	b.ReportAllocs()
	b.SetBytes(2 * benchPayload)
	b.ResetTimer()
	cpu0, start := cpuTime(b), time.Now()
	for range b.N {
		if _, err := client.WriteToUDPAddrPort(msg, to); err != nil {
			b.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := client.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(start)
	b.StopTimer()
	pkts := float64(2 * b.N)
	b.ReportMetric(float64(cpu.Nanoseconds())/pkts, "proc-cpu-ns/pkt")
	b.ReportMetric(pkts/wall.Seconds(), "pkts/s")
}

// BenchmarkRelayConnWriteTo measures what Parley adds on the client → peer
// path (the own-address port rule and counters) around the socket write,
// and checks it allocates nothing.
func BenchmarkRelayConnWriteTo(b *testing.B) {
	s, err := New(baseConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	go func() { // drain
		buf := make([]byte, 2048)
		for {
			if _, _, err := peer.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	pp := portOfAddr(peer.LocalAddr())
	self := newSelfSet(netip.MustParseAddr("203.0.113.10"), nil, pp, pp, nil, []uint16{3478})
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	rc := newRelayConn(sock, s, self)
	s.relays.add(rc)
	s.relayCount.Add(1)
	defer rc.Close()
	dst := peer.LocalAddr()
	msg := make([]byte, benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rc.WriteTo(msg, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllocate measures allocations per second as browsers make them:
// a fresh client socket, the 401 challenge, the authenticated Allocate,
// then Refresh with lifetime 0 (deallocate). A fresh socket each time also
// sidesteps a pion v5.1.1 race: when an allocation is deleted and the same
// 5-tuple allocates again at once, the old relay socket's read loop
// deletes the new allocation by 5-tuple.
func BenchmarkAllocate(b *testing.B) {
	s := startServer(b, baseConfig(), nil)
	u, p := creds(s, "bench")
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		c := newRawClient(b, s, u, p)
		if _, err := c.allocate(); err != nil {
			b.Fatal(err)
		}
		if err := c.refresh(0); err != nil {
			b.Fatal(err)
		}
		_ = c.conn.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "allocs/s")
}
