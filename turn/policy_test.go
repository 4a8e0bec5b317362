package turn

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestRelayPolicyRefusesSpecialPeers: by default the relay refuses loopback
// and private peers at CreatePermission and ChannelBind, including a
// loopback address sent as IPv4-mapped IPv6 (coturn CVE-2020-26262). The
// refused addresses are never sent anything: permissions fail at the
// server.
func TestRelayPolicyRefusesSpecialPeers(t *testing.T) {
	s := startServer(t, baseConfig(), nil)
	u, p := creds(s, "mallory")
	client := pionClient(t, s, u, p)
	allocate(t, client)

	for _, peer := range []string{"127.0.0.1", "10.0.0.1"} {
		err := client.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 9})
		if turnCode(err) != 403 {
			t.Errorf("CreatePermission(%s): %v, want 403 Forbidden", peer, err)
		}
	}

	raw := newRawClient(t, s, u, p)
	if _, err := raw.allocate(); err != nil {
		t.Fatal(err)
	}
	if err := raw.createPermission(mappedPeerAttr("::ffff:127.0.0.1", 9)); turnCode(err) != 403 {
		t.Errorf("CreatePermission(::ffff:127.0.0.1): %v, want 403", err)
	}
	if err := raw.createPermission(mappedPeerAttr("::ffff:10.0.0.1", 9)); turnCode(err) != 403 {
		t.Errorf("CreatePermission(::ffff:10.0.0.1): %v, want 403", err)
	}
	// ChannelBind installs a permission too, through the same hook; pion
	// v5.1.1 answers 401 there.
	if err := raw.channelBind(0x4001, peerAttr("10.0.0.1", 9)); err == nil {
		t.Error("ChannelBind(10.0.0.1) succeeded")
	}
	if err := raw.channelBind(0x4002, mappedPeerAttr("::ffff:169.254.169.254", 80)); err == nil {
		t.Error("ChannelBind(::ffff:169.254.169.254) succeeded")
	}
	// Data toward a refused peer goes nowhere.
	_ = raw.sendChannelData(0x4001, []byte("nope"))

	st := s.Stats()
	if st.PermissionsRefused["loopback"] != 2 || st.PermissionsRefused["private"] != 3 || st.PermissionsRefused["link_local"] != 1 {
		t.Errorf("PermissionsRefused = %v", st.PermissionsRefused)
	}
	if st.PacketsToPeers != 0 {
		t.Errorf("relayed %d packets to refused peers", st.PacketsToPeers)
	}
}

// TestRelayRoundTripAllowPeers: with AllowPeers 127.0.0.0/8, data goes
// client → relay → a UDP peer on 127.0.0.1 and back. 127.0.0.1 is also the
// server's own address, whose ports stay closed except for the relay range
// and SelfPorts even when loopback is allowed, so the peer's port is listed
// in SelfPorts (as the SFU's will be).
func TestRelayRoundTripAllowPeers(t *testing.T) {
	peer := loopbackPeer(t)
	cfg := baseConfig()
	cfg.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.SelfPorts = []uint16{portOfAddr(peer.LocalAddr())}
	s := startServer(t, cfg, nil)
	u, p := creds(s, "alice")
	relay := allocate(t, pionClient(t, s, u, p))

	// The client learned 203.0.113.10:port as its relay address; the peer
	// answers to where the relay socket really is, 127.0.0.1:port.
	relayPort := portOfAddr(relay.LocalAddr())
	for i, msg := range [][]byte{[]byte("ping over a send indication"), []byte("ping over a channel")} {
		if i == 1 {
			time.Sleep(100 * time.Millisecond) // let the client's ChannelBind finish
		}
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			t.Fatalf("relay write: %v", err)
		}
		got, from, err := readWithin(peer, 2*time.Second)
		if err != nil {
			t.Fatalf("peer read: %v", err)
		}
		if !bytes.Equal(got, msg) || portOfAddr(from) != relayPort {
			t.Fatalf("peer got %q from %v, want %q from the relay port %d", got, from, msg, relayPort)
		}
		reply := append([]byte("pong: "), msg...)
		if _, err := peer.WriteTo(reply, from); err != nil {
			t.Fatal(err)
		}
		back, backFrom, err := readWithin(relay, 2*time.Second)
		if err != nil {
			t.Fatalf("client read through relay: %v", err)
		}
		if !bytes.Equal(back, reply) || portOfAddr(backFrom) != portOfAddr(peer.LocalAddr()) {
			t.Fatalf("client got %q from %v", back, backFrom)
		}
	}
	waitFor(t, "traffic counted", func() bool {
		st := s.Stats()
		return st.PacketsToPeers == 2 && st.PacketsFromPeers == 2 && st.BytesToPeers > 0 && st.BytesFromPeers > 0
	})
}

// TestRelayToRelay: two clients of the same server talk relay to relay
// through the server's own public address (here 127.0.0.1), with no
// AllowPeers: the own relay address is allowed at the permission level and
// the relay range at the socket.
func TestRelayToRelay(t *testing.T) {
	cfg := baseConfig()
	cfg.PublicIP = "127.0.0.1"
	s := startServer(t, cfg, nil)
	ua, pa := creds(s, "alice")
	ub, pb := creds(s, "bob")
	a := allocate(t, pionClient(t, s, ua, pa))
	b := allocate(t, pionClient(t, s, ub, pb))

	// Permissions are per relay: a knocks first (b drops the knock, having
	// no permission for a yet), then each side has one when data flows.
	if _, err := a.WriteTo([]byte("knock"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteTo([]byte("hello a"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got, from, err := readWithin(a, 2*time.Second)
	if err != nil || string(got) != "hello a" || from.String() != b.LocalAddr().String() {
		t.Fatalf("a read %q from %v, %v", got, from, err)
	}
	if _, err := a.WriteTo([]byte("hello b"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got, from, err = readWithin(b, 2*time.Second)
	if err == nil && string(got) == "knock" {
		// b's permission may be installed before its relay socket's
		// goroutine reads the knock: then the knock arrives too.
		got, from, err = readWithin(b, 2*time.Second)
	}
	if err != nil || string(got) != "hello b" || from.String() != a.LocalAddr().String() {
		t.Fatalf("b read %q from %v, %v", got, from, err)
	}
	if st := s.Stats(); st.SelfPortDrops != 0 {
		t.Errorf("SelfPortDrops = %d for relay-to-relay traffic", st.SelfPortDrops)
	}
}

// TestSelfPortRefused: with the public address on this host, a client may
// get a permission for it but cannot reach a port of it outside the relay
// range and SelfPorts. The datagram is dropped and counted.
func TestSelfPortRefused(t *testing.T) {
	cfg := baseConfig()
	cfg.PublicIP = "127.0.0.1"
	cfg.RelayPortMin, cfg.RelayPortMax = 61000, 61100 // above Linux's ephemeral range
	var peer *net.UDPConn
	for peer == nil || portOfAddr(peer.LocalAddr()) >= 61000 {
		peer = loopbackPeer(t)
	}
	s := startServer(t, cfg, nil)
	u, p := creds(s, "mallory")
	relay := allocate(t, pionClient(t, s, u, p))

	if _, err := relay.WriteTo([]byte("to the server's own port"), peer.LocalAddr()); err != nil {
		t.Fatalf("write: %v", err)
	}
	if got, _, err := readWithin(peer, 300*time.Millisecond); err == nil {
		t.Fatalf("peer on the server's own non-relay port received %q", got)
	}
	waitFor(t, "drop counted", func() bool { return s.Stats().SelfPortDrops >= 1 })
	if st := s.Stats(); st.PacketsToPeers != 0 {
		t.Errorf("PacketsToPeers = %d", st.PacketsToPeers)
	}
}

// TestRelayConnSelfPorts exercises the relay socket's port rule directly.
func TestRelayConnSelfPorts(t *testing.T) {
	s, err := New(baseConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	inRange := loopbackPeer(t)
	extra := loopbackPeer(t)
	turnPort := uint16(3478)
	rp := portOfAddr(inRange.LocalAddr())
	self := newSelfSet(netip.MustParseAddr("203.0.113.10"), nil, rp, rp, []uint16{portOfAddr(extra.LocalAddr())}, []uint16{turnPort})

	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rc := newRelayConn(sock, s, self)
	s.relays.add(rc)
	s.relayCount.Add(1)
	defer rc.Close()

	refused := []*net.UDPAddr{
		{IP: net.IPv4(127, 0, 0, 1), Port: 22},
		{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 22},
		{IP: net.IPv4(127, 0, 0, 1), Port: int(turnPort)},
		{IP: net.IPv4(0, 0, 0, 0), Port: 22},
		{IP: net.ParseIP("203.0.113.10"), Port: 8080}, // the public address: never sent to here
	}
	for _, a := range refused {
		if _, err := rc.WriteTo([]byte("x"), a); !errors.Is(err, ErrSelfPort) {
			t.Errorf("WriteTo(%v) err = %v, want ErrSelfPort", a, err)
		}
	}
	for _, dst := range []*net.UDPConn{inRange, extra} {
		if _, err := rc.WriteTo([]byte("ok"), dst.LocalAddr()); err != nil {
			t.Errorf("WriteTo(%v): %v", dst.LocalAddr(), err)
		}
		if got, _, err := readWithin(dst, time.Second); err != nil || string(got) != "ok" {
			t.Errorf("%v read %q, %v", dst.LocalAddr(), got, err)
		}
	}
	if _, err := rc.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); !errors.Is(err, ErrNotUDPAddr) {
		t.Errorf("TCP destination: %v", err)
	}
	if st := s.Stats(); st.SelfPortDrops != uint64(len(refused)) || st.PacketsToPeers != 2 {
		t.Errorf("SelfPortDrops = %d, PacketsToPeers = %d", st.SelfPortDrops, st.PacketsToPeers)
	}

	// The address cache hands back the same immutable address for a
	// repeated source, and a new one when the source changes.
	buf := make([]byte, 64)
	for range 2 {
		if _, err := inRange.WriteTo([]byte("a"), sock.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	_, first, err := rc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := rc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first.String() != inRange.LocalAddr().String() {
		t.Errorf("cached addresses %v, %v", first, second)
	}
	if _, err := extra.WriteTo([]byte("b"), sock.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, third, err := rc.ReadFrom(buf); err != nil || third.String() != extra.LocalAddr().String() || first.String() != inRange.LocalAddr().String() {
		t.Errorf("after a new source: %v (first now %v), %v", third, first, err)
	}
}

func TestSelfSet(t *testing.T) {
	ss := newSelfSet(netip.MustParseAddr("198.51.100.7"), []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1")}, 50000, 50010, []uint16{7000}, []uint16{50005, 3478})
	for _, a := range []string{"127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "0.1.2.3", "::", "198.51.100.7", "192.0.2.1"} {
		if !ss.isSelf(netip.MustParseAddr(a)) {
			t.Errorf("isSelf(%s) = false", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "198.51.100.8", "2606:4700::1111"} {
		if ss.isSelf(netip.MustParseAddr(a)) {
			t.Errorf("isSelf(%s) = true", a)
		}
	}
	for port, want := range map[uint16]bool{50000: true, 50010: true, 50004: true, 50005: false, 49999: false, 50011: false, 7000: true, 3478: false, 22: false} {
		if got := ss.allowedPort(port); got != want {
			t.Errorf("allowedPort(%d) = %v, want %v", port, got, want)
		}
	}
}
