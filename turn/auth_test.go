package turn

import (
	"testing"
	"time"
)

func TestAllocateValidCredential(t *testing.T) {
	s := startServer(t, baseConfig(), nil)
	u, p := creds(s, "alice")
	relay := allocate(t, pionClient(t, s, u, p))
	if got := relay.LocalAddr().String(); got[:len("203.0.113.10:")] != "203.0.113.10:" {
		t.Errorf("relay address %s, want the public IP", got)
	}
	waitFor(t, "allocation counted", func() bool { return s.Stats().Allocations == 1 })
	if st := s.Stats(); st.AllocationsTotal != 1 {
		t.Errorf("AllocationsTotal = %d", st.AllocationsTotal)
	}
}

// TestAllocateRefusedCredentials: an expired username, a wrong HMAC, a
// username minted with another secret and a malformed username are all
// refused. pion/turn v5.1.1 answers 400 (Bad Request) once the client has
// authenticated with a credential it rejects, not 401: the point is that
// no allocation is made.
func TestAllocateRefusedCredentials(t *testing.T) {
	s := startServer(t, baseConfig(), nil)
	now := s.now()
	expiredU, expiredP := MintCredential(testSecret, "alice", now.Add(-time.Minute))
	goodU, _ := MintCredential(testSecret, "alice", now.Add(time.Hour))
	otherU, otherP := MintCredential("another-secret", "alice", now.Add(time.Hour))
	cases := []struct {
		name, username, password, reason string
	}{
		{"expired", expiredU, expiredP, "expired"},
		{"wrong HMAC", goodU, "bm90IHRoZSBobWFjIGF0IGFsbA==", "credential"},
		{"other secret", otherU, otherP, "credential"},
		{"malformed", "alice", "whatever", "credential"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.Stats().AllocationsRefused[c.reason]
			_, err := pionClient(t, s, c.username, c.password).Allocate()
			if err == nil {
				t.Fatal("allocation succeeded")
			}
			if code := turnCode(err); code != 400 && code != 401 {
				t.Errorf("error %v (code %d), want a 400/401 refusal", err, code)
			}
			waitFor(t, "refusal counted", func() bool { return s.Stats().AllocationsRefused[c.reason] == before+1 })
		})
	}
	if st := s.Stats(); st.Allocations != 0 || st.AllocationsTotal != 0 {
		t.Errorf("allocations made: %+v", st)
	}
}

// TestAllocationOutlivesCredential: expiry is checked at Allocate only, so
// an allocation made with a valid credential keeps working (Refresh,
// CreatePermission, ChannelBind, data) after the credential expired, while
// a new Allocate with it is refused.
func TestAllocationOutlivesCredential(t *testing.T) {
	clock := &testClock{}
	cfg := baseConfig()
	cfg.PublicIP = "127.0.0.1"
	cfg.CredentialTTL = time.Minute
	s := startServer(t, cfg, clock)
	peer := loopbackPeer(t)
	u, p := MintCredential(testSecret, "alice", clock.now().Add(time.Minute))

	c := newRawClient(t, s, u, p)
	if _, err := c.allocate(); err != nil {
		t.Fatalf("allocate: %v", err)
	}

	clock.advance(2 * time.Hour) // the credential expired an hour and 59 minutes ago

	if err := c.refresh(10 * time.Minute); err != nil {
		t.Errorf("Refresh after expiry: %v", err)
	}
	// The server's own relay address is allowed at the permission level.
	if err := c.createPermission(peerAttr("127.0.0.1", int(portOfAddr(peer.LocalAddr())))); err != nil {
		t.Errorf("CreatePermission after expiry: %v", err)
	}
	if err := c.channelBind(0x4000, peerAttr("127.0.0.1", int(portOfAddr(peer.LocalAddr())))); err != nil {
		t.Errorf("ChannelBind after expiry: %v", err)
	}

	// The same expired credential cannot start a new allocation.
	again := newRawClient(t, s, u, p)
	if _, err := again.allocate(); turnCode(err) != 400 {
		t.Errorf("new Allocate with expired credential: %v, want 400", err)
	}
	if got := s.Stats().AllocationsRefused["expired"]; got != 1 {
		t.Errorf("expired refusals = %d, want 1", got)
	}
	if st := s.Stats(); st.Allocations != 1 {
		t.Errorf("live allocations = %d, want 1", st.Allocations)
	}
}
