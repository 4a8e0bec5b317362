package turn

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// TestQuotaPerUser: allocation N+1 with one username gets 486, and a slot
// freed by a deallocation can be used again.
func TestQuotaPerUser(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxAllocationsPerUser = 3
	s := startServer(t, cfg, nil)
	u, p := creds(s, "alice")

	var clients []*rawClient
	for i := range 3 {
		c := newRawClient(t, s, u, p)
		if _, err := c.allocate(); err != nil {
			t.Fatalf("allocation %d: %v", i+1, err)
		}
		clients = append(clients, c)
	}
	// Also through pion's client, as a browser would see it.
	if _, err := pionClient(t, s, u, p).Allocate(); turnCode(err) != 486 {
		t.Fatalf("allocation 4 (pion client): %v, want 486 Allocation Quota Reached", err)
	}
	if _, err := newRawClient(t, s, u, p).allocate(); turnCode(err) != 486 {
		t.Fatalf("allocation 5: %v, want 486", err)
	}
	// Another user is not affected.
	u2, p2 := creds(s, "bob")
	if _, err := newRawClient(t, s, u2, p2).allocate(); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// RFC 8656 §8: a Refresh with lifetime 0 deletes the allocation.
	if err := clients[0].refresh(0); err != nil {
		t.Fatalf("deallocate: %v", err)
	}
	waitFor(t, "slot freed", func() bool { return s.Stats().Allocations == 3 })
	if _, err := newRawClient(t, s, u, p).allocate(); err != nil {
		t.Fatalf("allocation after a slot was freed: %v", err)
	}
	if got := s.Stats().AllocationsRefused["user_quota"]; got != 2 {
		t.Errorf("user_quota refusals = %d, want 2", got)
	}
}

func TestQuotaPerIPAndTotal(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxAllocationsPerIP = 2
	s := startServer(t, cfg, nil)
	for i := range 2 {
		u, p := creds(s, "user"+strconv.Itoa(i))
		if _, err := newRawClient(t, s, u, p).allocate(); err != nil {
			t.Fatal(err)
		}
	}
	u, p := creds(s, "user-3")
	if _, err := newRawClient(t, s, u, p).allocate(); turnCode(err) != 486 {
		t.Errorf("third allocation from 127.0.0.1: %v, want 486", err)
	}

	cfg = baseConfig()
	cfg.MaxAllocations = 2
	s = startServer(t, cfg, nil)
	for i := range 2 {
		u, p := creds(s, "user"+strconv.Itoa(i))
		if _, err := newRawClient(t, s, u, p).allocate(); err != nil {
			t.Fatal(err)
		}
	}
	u, p = creds(s, "user-3")
	if _, err := newRawClient(t, s, u, p).allocate(); turnCode(err) != 508 {
		t.Errorf("allocation over the server cap: %v, want 508 Insufficient Capacity", err)
	}
	if got := s.Stats().AllocationsRefused["capacity"]; got != 1 {
		t.Errorf("capacity refusals = %d", got)
	}
	// The reservation the refused request made is given back at once: the
	// user can allocate when capacity returns.
	s.quota.mu.Lock()
	pending := len(s.quota.pending)
	s.quota.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d quota reservations left pending", pending)
	}
}

// TestTCPAllocationRefused: RFC 6062 TCP relay allocations are refused
// (pion v5.1.1 would serve them by default).
func TestTCPAllocationRefused(t *testing.T) {
	s := startServer(t, baseConfig(), nil)
	u, p := creds(s, "alice")

	// Over the TCP listener, as RFC 6062 requires.
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := pionClientOn(t, s.Addr().String(), newSTUNConn(conn), u, p)
	if _, err := c.AllocateTCP(); turnCode(err) != 508 {
		t.Errorf("TCP allocation over TCP: %v, want 508", err)
	}
	// And over UDP, by REQUESTED-TRANSPORT alone.
	if _, err := newRawClient(t, s, u, p).allocateTransport(6); turnCode(err) != 508 {
		t.Errorf("TCP allocation over UDP: %v, want 508", err)
	}
	if got := s.Stats().AllocationsRefused["tcp"]; got != 2 {
		t.Errorf("tcp refusals = %d, want 2", got)
	}
	waitFor(t, "no reservation left", func() bool {
		s.quota.mu.Lock()
		defer s.quota.mu.Unlock()
		return len(s.quota.pending) == 0 && len(s.quota.users) == 0
	})
}

func TestQuotaUnit(t *testing.T) {
	q := newQuota(2, 3)
	a1 := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	a2 := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2}
	a3 := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 3}
	b1 := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1}
	b2 := &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2::ffff"), Port: 1} // same /64

	for _, a := range []net.Addr{a1, a2} {
		if _, ok := q.allow("u", a); !ok {
			t.Fatalf("allow %v refused", a)
		}
		q.created("u", a)
	}
	if r, ok := q.allow("u", a3); ok || r != refusedUserQuota {
		t.Errorf("third for user: %v, %v", r, ok)
	}
	if _, ok := q.allow("v", a3); !ok {
		t.Fatal("other user refused")
	}
	q.created("v", a3)
	if r, ok := q.allow("w", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4}); ok || r != refusedIPQuota {
		t.Errorf("fourth from the IP: %v, %v", r, ok)
	}
	// IPv6 counts per /64.
	for _, a := range []net.Addr{b1, b2} {
		if _, ok := q.allow("x"+a.String(), a); !ok {
			t.Fatal("v6 refused early")
		}
	}
	if _, ok := q.allow("y", &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2::abcd"), Port: 9}); !ok {
		t.Fatal("third in the /64 refused (limit 3)")
	}
	if r, ok := q.allow("z", &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2::abce"), Port: 9}); ok || r != refusedIPQuota {
		t.Errorf("fourth in the /64: %v, %v", r, ok)
	}
	if _, ok := q.allow("z", &net.UDPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 9}); !ok {
		t.Error("another /64 refused")
	}

	// abandon releases the newest reservation of the user.
	q.abandon("z")
	if _, ok := q.allow("z", &net.UDPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 10}); !ok {
		t.Error("after abandon")
	}

	// Deleting frees the slot.
	q.deleted("u", a1)
	if _, ok := q.allow("u", a1); !ok {
		t.Error("slot not freed by deleted")
	}

	// Unconfirmed reservations expire.
	q2 := newQuota(1, 10)
	if _, ok := q2.allow("u", a1); !ok {
		t.Fatal()
	}
	q2.mu.Lock()
	for k, p := range q2.pending {
		p.until = time.Now().Add(-time.Second)
		q2.pending[k] = p
	}
	q2.mu.Unlock()
	if _, ok := q2.allow("u", a2); !ok {
		t.Error("expired reservation still counted")
	}
	// A repeated Allocate from the same 5-tuple replaces its reservation.
	if _, ok := q2.allow("u", a2); !ok {
		t.Error("retransmitted Allocate refused")
	}
}
