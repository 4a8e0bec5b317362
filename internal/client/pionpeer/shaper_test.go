package pionpeer

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestShaperAdmit drives the token bucket with a synthetic clock: a burst
// passes at once, what follows is spaced at the rate, what would wait
// beyond shaperMaxDelay is dropped, and over a long overload exactly the
// rate gets through.
func TestShaperAdmit(t *testing.T) {
	c := &shapedConn{bytesPerSec: 125_000, burst: 24 * time.Millisecond} // 1 Mbit/s, 3,000-byte bucket
	now := time.Unix(1000, 0)
	var releases []time.Duration
	for range 20 {
		r, ok := c.admit(1000, now)
		if !ok {
			break
		}
		releases = append(releases, r.Sub(now))
	}
	// 8 ms per 1,000 bytes: three fit the bucket, then one per 8 ms
	// while the wait stays within 50 ms.
	want := []time.Duration{0, 0, 0, 8, 16, 24, 32, 40, 48}
	if len(releases) != len(want) {
		t.Fatalf("admitted %d datagrams at once (%v), want %d", len(releases), releases, len(want))
	}
	for i, w := range want {
		if releases[i] != w*time.Millisecond {
			t.Errorf("datagram %d leaves after %v, want %v", i, releases[i], w*time.Millisecond)
		}
	}

	// Twice the rate for 10 s: 1,000 bytes every 4 ms.
	c = &shapedConn{bytesPerSec: 125_000, burst: 24 * time.Millisecond}
	passed := 0
	for i := range 2500 {
		if _, ok := c.admit(1000, now.Add(time.Duration(i)*4*time.Millisecond)); ok {
			passed++
		}
	}
	if got := float64(passed*1000*8) / 10; got < 0.98e6 || got > 1.02e6 {
		t.Errorf("at twice the rate, %.0f bit/s passed, want 1 Mbit/s", got)
	}
}

// TestShapedConn passes real datagrams through a shaped socket and closes
// it under a blocked reader.
func TestShapedConn(t *testing.T) {
	inner, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := newShapedConn(inner, 8_000_000)
	out, err := net.Dial("udp4", inner.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for i := range 5 {
		if _, err := out.Write([]byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1500)
	for i := range 5 {
		n, from, err := c.ReadFrom(buf)
		if err != nil || n != 4 || buf[0] != byte(i) || from.String() != out.LocalAddr().String() {
			t.Fatalf("datagram %d: %d bytes %v from %v, %v", i, n, buf[:n], from, err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadFrom still blocked after Close")
	}
	if s := (&downlink{conn: c}).stats(); s.Passed != 5 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 5 passed", s)
	}
}
