package pionpeer

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
)

// A downlink cap (Config.DownlinkBitrate) emulates a slow last mile in front
// of this participant: every UDP datagram it receives goes through a token
// bucket that lets Bitrate through, queues a little above it, and drops
// what would wait longer than shaperMaxDelay — what `tc qdisc … tbf` does
// on a router. It sits below ICE, DTLS and SRTP (a wrapped socket under an
// ICE UDP mux), so pion's transport-cc interceptor never sees a dropped
// packet and reports it lost, and reports the queueing delay of the others:
// exactly the signal a sender-side bandwidth estimator acts on.
//
// Limits: it shapes only what arrives over this one socket (UDP host
// candidates; not TURN relays or TCP), the sender's own pacing and the
// loopback path are not modelled, and its clock is Go's timer, good to
// about a millisecond.

const (
	// shaperMaxDelay is the longest a datagram may queue before it is
	// dropped: tc's tbf "latency", 50 ms being a common setting for a
	// home router's buffer.
	shaperMaxDelay = 50 * time.Millisecond
	// shaperBurst is the bucket's depth in time at the cap's rate: a
	// burst this long above the rate passes unqueued, as tbf's "burst".
	shaperBurst = 20 * time.Millisecond
	// shaperMinBurstBytes keeps the bucket at least two full datagrams
	// deep at very low rates, or every packet would queue.
	shaperMinBurstBytes = 3000
	// shaperQueueLen bounds the datagrams waiting (memory): 50 ms at
	// 100 Mbit/s of 1,200-byte packets is ≈ 520.
	shaperQueueLen = 1024
	// udpBufSize holds any datagram (the largest UDP payload).
	udpBufSize = 65536
)

// datagram is one received UDP payload and when the shaper lets it out.
type datagram struct {
	buf     []byte
	from    net.Addr
	release time.Time
}

// shapedConn is a net.PacketConn whose reads pass a token bucket.
//
// Ownership: the reader goroutine alone reads the inner socket; queue carries datagrams to ReadFrom's single
// caller (the ICE mux's read loop). dropped and passed are atomic.
// tat is owned by the reader goroutine (admit).
type shapedConn struct {
	net.PacketConn
	bytesPerSec float64
	burst       time.Duration
	queue       chan datagram
	done        chan struct{} // closed when the reader goroutine ended
	closeOnce   sync.Once

	dropped, passed atomic.Uint64
	tat             time.Time // the bucket's clock (admit); owned by read
}

// newShapedConn wraps inner, capping what it delivers at bitrate (bit/s).
func newShapedConn(inner net.PacketConn, bitrate int) *shapedConn {
	c := &shapedConn{
		PacketConn:  inner,
		bytesPerSec: float64(bitrate) / 8,
		queue:       make(chan datagram, shaperQueueLen),
		done:        make(chan struct{}),
	}
	burstBytes := max(c.bytesPerSec*shaperBurst.Seconds(), shaperMinBurstBytes)
	c.burst = time.Duration(burstBytes / c.bytesPerSec * float64(time.Second))
	go c.read()
	return c
}

// read takes datagrams off the socket as fast as they come and gives each
// its release time, dropping those that would wait too long.
func (c *shapedConn) read() {
	defer close(c.done)
	defer close(c.queue)
	for {
		buf := make([]byte, udpBufSize)
		n, from, err := c.PacketConn.ReadFrom(buf)
		if err != nil {
			return
		}
		release, ok := c.admit(n, time.Now())
		if !ok {
			c.dropped.Add(1)
			continue
		}
		select {
		case c.queue <- datagram{buf: buf[:n], from: from, release: release}:
			c.passed.Add(1)
		default:
			c.dropped.Add(1)
		}
	}
}

// admit runs the token bucket for n bytes arriving at now: the time the
// datagram may leave, or false when it would queue beyond shaperMaxDelay.
// The bucket is kept as GCRA's theoretical arrival time, tat: the instant
// the link would have sent everything admitted so far at the rate; a
// datagram leaves once its own bytes fit within burst of it.
func (c *shapedConn) admit(n int, now time.Time) (time.Time, bool) {
	tat := c.tat
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(time.Duration(float64(n) / c.bytesPerSec * float64(time.Second)))
	release := tat.Add(-c.burst)
	if release.Sub(now) > shaperMaxDelay {
		return time.Time{}, false
	}
	c.tat = tat
	if release.Before(now) {
		release = now
	}
	return release, true
}

// ReadFrom returns the next datagram once the bucket lets it out.
func (c *shapedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	d, ok := <-c.queue
	if !ok {
		return 0, nil, net.ErrClosed
	}
	if wait := time.Until(d.release); wait > 0 {
		time.Sleep(wait)
	}
	return copy(p, d.buf), d.from, nil
}

// Close closes the socket and waits for the reader to end.
func (c *shapedConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.PacketConn.Close()
		<-c.done
	})
	return err
}

// DownlinkStats says what a downlink cap did: datagrams let through and
// datagrams dropped.
type DownlinkStats struct {
	Passed, Dropped uint64
}

// downlink is a participant's capped receive path: one shaped socket that
// every PeerConnection of the participant shares through an ICE UDP mux,
// so the cap covers everything it receives, as a last mile would.
type downlink struct {
	conn *shapedConn
	mux  *ice.UDPMuxDefault
}

// newDownlink opens the shaped socket: on loopback unless allowNonLoopback.
func newDownlink(bitrate int, allowNonLoopback bool) (*downlink, error) {
	addr := "127.0.0.1:0"
	if allowNonLoopback {
		addr = "0.0.0.0:0"
	}
	inner, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("pionpeer: downlink socket: %w", err)
	}
	conn := newShapedConn(inner, bitrate)
	return &downlink{conn: conn, mux: ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})}, nil
}

func (d *downlink) stats() DownlinkStats {
	return DownlinkStats{Passed: d.conn.passed.Load(), Dropped: d.conn.dropped.Load()}
}

func (d *downlink) close() { _ = d.mux.Close() }

// Downlink says what the participant's downlink cap did; zero without one.
func (p *Peer) Downlink() DownlinkStats {
	if p.downlink == nil {
		return DownlinkStats{}
	}
	return p.downlink.stats()
}
