package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	pionturn "github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/certfile"
	"github.com/parleyhq/parley/internal/testsupport/testcert"
)

// newSTUNConn frames a stream connection for pion's client (RFC 8656 §12.5).
func newSTUNConn(c net.Conn) net.PacketConn { return pionturn.NewSTUNConn(c) }

// TestTCPAndTLSTransports: browsers behind firewalls reach the relay over
// TCP (turn:...?transport=tcp) and TLS (turns:); the relay itself is UDP.
func TestTCPAndTLSTransports(t *testing.T) {
	defer test.CheckRoutines(t)()
	certFile, keyFile, pool := testcert.Write(t, "turn.test")
	peer := loopbackPeer(t)
	cfg := baseConfig()
	cfg.TLSListen = "127.0.0.1:0"
	certs, err := certfile.New(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.GetCertificate = certs.GetCertificate
	cfg.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.SelfPorts = []uint16{portOfAddr(peer.LocalAddr())}
	s := startServer(t, cfg, nil)
	u, p := creds(s, "alice")
	mustContain(t, s.ICEServers("alice")[0].URLs, "turns:203.0.113.10:"+itoa(portOfAddr(s.tlsAddr()))+"?transport=tcp")

	tcpConn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tlsConn, err := tls.Dial("tcp", s.tlsAddr().String(), &tls.Config{RootCAs: pool, ServerName: "turn.test"})
	if err != nil {
		t.Fatal(err)
	}
	for name, conn := range map[string]net.Conn{"tcp": tcpConn, "tls": tlsConn} {
		t.Run(name, func(t *testing.T) {
			c := pionClientOn(t, s.Addr().String(), newSTUNConn(conn), u, p)
			relay := allocate(t, c)
			msg := []byte("over " + name)
			if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			got, from, err := readWithin(peer, 2*time.Second)
			if err != nil || string(got) != string(msg) {
				t.Fatalf("peer read %q, %v", got, err)
			}
			// pion v5.1.1's stream framing holds back frames shorter than
			// 9 bytes (ChannelData with ≤ 4 payload bytes) until more data
			// arrives; WebRTC never sends datagrams that small.
			if _, err := peer.WriteTo([]byte("back over "+name), from); err != nil {
				t.Fatal(err)
			}
			if got, _, err := readWithin(relay, 2*time.Second); err != nil || string(got) != "back over "+name {
				t.Fatalf("client read %q, %v", got, err)
			}
			_ = relay.Close()
			_ = conn.Close()
		})
	}
	waitFor(t, "allocations gone with their connections", func() bool { return s.Stats().Allocations == 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLifecycle: Start returns with sockets open, refuses a second Start,
// stops when its context ends, Close is idempotent, and nothing is left
// running.
func TestLifecycle(t *testing.T) {
	defer test.CheckRoutines(t)()
	s, err := New(baseConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Error("Addr before Start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start: %v", err)
	}
	addr := s.Addr().String()
	u, p := creds(s, "alice")
	c := newRawClient(t, s, u, p)
	if _, err := c.allocate(); err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()

	cancel()
	waitFor(t, "TCP connection closed by shutdown", func() bool {
		_ = tcp.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := tcp.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	})
	waitFor(t, "allocations closed", func() bool { return s.relayCount.Load() == 0 })
	if err := s.Close(); err != nil {
		t.Errorf("Close after ctx end: %v", err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	_ = c.conn.Close()
}

func TestNewValidation(t *testing.T) {
	bad := []Config{
		{Listen: "nonsense"},
		{Listen: ":99999"},
		{Listen: ":3478", RelayPortMin: 60000, RelayPortMax: 50000},
		{Listen: ":3478", PublicIP: "not-an-ip"},
		{Listen: ":3478", PublicIP: "0.0.0.0"},
		{Listen: ":3478", PublicIP: "224.0.0.1"},
		{Listen: ":3478", CredentialTTL: -time.Second},
		{Listen: ":3478", MaxAllocations: -1},
		{Listen: ":3478", AllowPeers: []netip.Prefix{{}}},
	}
	for _, cfg := range bad {
		if _, err := New(cfg, nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) err = %v, want ErrInvalidConfig", cfg, err)
		}
	}

	log, buf := testLogger(t)
	s, err := New(Config{Listen: ":3478", TLSListen: ":5349"}, log)
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.Realm != DefaultRealm || c.CredentialTTL != time.Hour || c.RelayPortMin != 49152 || c.RelayPortMax != 65535 ||
		c.MaxAllocationsPerUser != 10 || c.MaxAllocationsPerIP != 64 || c.MaxAllocations != 10000 ||
		c.Secret == "" || c.URLHost != c.PublicIP || c.TLSListen != "" || c.UDPSockets < 1 {
		t.Errorf("defaults not filled: %+v", c)
	}
	logs := buf.String()
	for _, want := range []string{"random one", "no certificate"} {
		if !contains(logs, want) {
			t.Errorf("log lacks a warning about %q:\n%s", want, logs)
		}
	}
	if contains(logs, c.Secret) {
		t.Error("the generated secret was logged")
	}
}

// TestCredentialsNeverLogged runs a full allocation with debug logging and
// checks that neither the password nor the secret appears in the log.
func TestCredentialsNeverLogged(t *testing.T) {
	log, buf := testLogger(t)
	cfg := baseConfig()
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ice := s.ICEServers("alice")[0]
	relay := allocate(t, pionClient(t, s, ice.Username, ice.Credential))
	_ = relay.Close()
	_, _ = pionClient(t, s, ice.Username, "d3JvbmcgcGFzc3dvcmQ=").Allocate()
	for _, secret := range []string{ice.Credential, testSecret} {
		if contains(buf.String(), secret) {
			t.Errorf("log contains a credential or the secret")
		}
	}
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }

// TestStatsKeys: the reason maps always carry every label, zeros included,
// so that metric label sets are stable.
func TestStatsKeys(t *testing.T) {
	s, err := New(baseConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	for _, k := range []string{"credential", "expired", "user_quota", "ip_quota", "capacity", "tcp", "family"} {
		if v, ok := st.AllocationsRefused[k]; !ok || v != 0 {
			t.Errorf("AllocationsRefused[%q] = %d, %v", k, v, ok)
		}
	}
	for _, k := range []string{"loopback", "private", "link_local", "unique_local", "nat64", "invalid"} {
		if _, ok := st.PermissionsRefused[k]; !ok {
			t.Errorf("PermissionsRefused lacks %q", k)
		}
	}
	if _, ok := st.PermissionsRefused["public"]; ok {
		t.Error("PermissionsRefused has a public key")
	}
}

// TestPublicIPDefault: a server listening on a specific IP advertises it
// (its relays are bound there); a wildcard listener advertises the host's
// first usable IPv4.
func TestPublicIPDefault(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.PublicIP != "127.0.0.1" || s.cfg.URLHost != "127.0.0.1" {
		t.Errorf("PublicIP = %q, URLHost = %q; want 127.0.0.1", s.cfg.PublicIP, s.cfg.URLHost)
	}
	s, err = New(Config{Listen: ":3478"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := detectPublicIP()
	if !want.IsValid() {
		want = netip.MustParseAddr("127.0.0.1")
	}
	if s.cfg.PublicIP != want.String() {
		t.Errorf("PublicIP = %q, want %v", s.cfg.PublicIP, want)
	}
}

// TestPortAlreadyTaken: a port another process holds with SO_REUSEPORT must
// make Start fail, not join that process's socket group.
func TestPortAlreadyTaken(t *testing.T) {
	other, err := listenUDPGroup(context.Background(), "127.0.0.1:0", 2) // like a coturn with reuseport
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range other {
			c.Close()
		}
	}()
	addr := other[0].LocalAddr().String()
	if _, err := listenUDPGroup(context.Background(), addr, 2); err == nil || !strings.Contains(err.Error(), "another TURN server") {
		t.Fatalf("joined a port another socket group holds: %v", err)
	}
}
