package turn

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

// fastSetup is a server allowing loopback, a raw client with an allocation
// and a channel bound to a loopback peer.
func fastSetup(t *testing.T) (*Server, *rawClient, *net.UDPConn, *relayConn) {
	t.Helper()
	peer := loopbackPeer(t)
	cfg := baseConfig()
	cfg.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.SelfPorts = []uint16{portOfAddr(peer.LocalAddr())}
	s := startServer(t, cfg, nil)
	u, p := creds(s, "alice")
	c := newRawClient(t, s, u, p)
	relayed, err := c.allocate()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.channelBind(0x4000, peerAttr("127.0.0.1", int(portOfAddr(peer.LocalAddr())))); err != nil {
		t.Fatal(err)
	}
	rc := s.relays.byPort(relayed.Port())
	if rc == nil {
		t.Fatal("relay socket not registered")
	}
	return s, c, peer, rc
}

// TestFastPath: ChannelData over a bound channel is relayed both ways by
// the fast path, without a heap allocation per datagram (pion's path makes
// about seven), with the right framing; datagrams fall back to pion when
// the fast path does not know the channel, and the route goes away with
// the allocation.
func TestFastPath(t *testing.T) {
	s, c, peer, rc := fastSetup(t)
	payload := bytes.Repeat([]byte("m"), 1000)
	frame := make([]byte, channelHeader+len(payload))
	binary.BigEndian.PutUint16(frame, 0x4000)
	binary.BigEndian.PutUint16(frame[2:], uint16(len(payload)))
	copy(frame[channelHeader:], payload)
	server := s.Addr().(*net.UDPAddr).AddrPort()
	peerBuf, clientBuf := make([]byte, 2048), make([]byte, 2048)

	roundTrip := func() {
		if _, err := c.conn.WriteToUDPAddrPort(frame, server); err != nil {
			t.Fatal(err)
		}
		_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, relay, err := peer.ReadFromUDPAddrPort(peerBuf)
		if err != nil || !bytes.Equal(peerBuf[:n], payload) {
			t.Fatalf("peer read %d bytes, %v", n, err)
		}
		if _, err := peer.WriteToUDPAddrPort(peerBuf[:n], relay); err != nil {
			t.Fatal(err)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err = c.conn.ReadFromUDPAddrPort(clientBuf)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 8656 §12.4-12.5: channel number, length, data; no padding
		// is needed over UDP (1000 is a multiple of 4 anyway).
		if n != len(frame) || !bytes.Equal(clientBuf[:n], frame) {
			t.Fatalf("client got %d bytes %x..., want the same ChannelData back", n, clientBuf[:min(n, 8)])
		}
	}
	roundTrip()
	if allocs := testing.AllocsPerRun(50, roundTrip); allocs >= 1 {
		t.Errorf("%.1f allocations per round trip: the fast path was not taken", allocs)
	}
	if st := s.Stats(); st.PacketsToPeers != 52 || st.PacketsFromPeers != 52 {
		t.Errorf("counted %d/%d packets, want 52/52", st.PacketsToPeers, st.PacketsFromPeers)
	}

	// Without the mirrored channel, pion (which still has it) relays.
	rc.removeChannel(0x4000)
	roundTrip()

	// The route leaves with the allocation.
	key := unmapAddrPort(c.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	if s.fast.lookup(key) != rc {
		t.Fatal("client not in the fast path")
	}
	if err := c.refresh(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "route removed", func() bool { return s.fast.lookup(key) == nil })
	if s.relays.byPort(rc.port) != nil {
		t.Error("relay socket still registered")
	}
}

// TestFastPathSelfPort: the own-address port rule holds on the fast path.
func TestFastPathSelfPort(t *testing.T) {
	cfg := baseConfig()
	cfg.PublicIP = "127.0.0.1"
	cfg.RelayPortMin, cfg.RelayPortMax = 61000, 61100
	var peer *net.UDPConn
	for peer == nil || portOfAddr(peer.LocalAddr()) >= 61000 {
		peer = loopbackPeer(t)
	}
	s := startServer(t, cfg, nil)
	u, p := creds(s, "mallory")
	c := newRawClient(t, s, u, p)
	if _, err := c.allocate(); err != nil {
		t.Fatal(err)
	}
	// The permission is granted (own relay address) ...
	if err := c.channelBind(0x4001, peerAttr("127.0.0.1", int(portOfAddr(peer.LocalAddr())))); err != nil {
		t.Fatal(err)
	}
	// ... but data to a port outside the relay range is not sent.
	if err := c.sendChannelData(0x4001, []byte("to a non-relay port of the server")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := readWithin(peer, 300*time.Millisecond); err == nil {
		t.Fatalf("peer received %q", got)
	}
	waitFor(t, "drop counted", func() bool { return s.Stats().SelfPortDrops == 1 })
}

func TestFastPathForwardRejects(t *testing.T) {
	f := newFastPath()
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	if f.forward(from, []byte{0x40, 0x00, 0x00}) {
		t.Error("short datagram forwarded")
	}
	if f.forward(from, []byte{0x40, 0x00, 0x00, 0x09, 1, 2}) {
		t.Error("datagram shorter than its length forwarded")
	}
	if f.forward(from, []byte{0x40, 0x00, 0x00, 0x02, 1, 2}) {
		t.Error("unknown client forwarded")
	}
	rc := &relayConn{}
	f.add(from, rc)
	if f.forward(from, []byte{0x40, 0x01, 0x00, 0x02, 1, 2}) {
		t.Error("unknown channel forwarded")
	}
	rc.addChannel(0x4002, netip.MustParseAddrPort("[::ffff:127.0.0.1]:9"))
	rc.addChannel(0x4002, netip.MustParseAddrPort("127.0.0.1:10")) // rebinding replaces
	if p, ok := rc.channelPeer(0x4002); !ok || p != netip.MustParseAddrPort("127.0.0.1:10") {
		t.Errorf("channelPeer = %v, %v", p, ok)
	}
	if n, ok := rc.channelFor(netip.MustParseAddrPort("[::ffff:127.0.0.1]:10")); !ok || n != 0x4002 {
		t.Errorf("channelFor(mapped) = %x, %v", n, ok)
	}
	rc.removeChannel(0x4002)
	if _, ok := rc.channelPeer(0x4002); ok {
		t.Error("removed channel still there")
	}
	f.remove(from, &relayConn{}) // another relay's route: no effect
	if f.lookup(from) != rc {
		t.Error("remove dropped another relay's route")
	}
	f.remove(from, rc)
	if f.lookup(from) != nil {
		t.Error("route not removed")
	}
}
