package turn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/pionlog"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
)

// Every address these tests send packets to is 127.0.0.1. Addresses such as
// 10.0.0.1 or 203.0.113.10 appear only as peers the relay must refuse, or as
// an advertised relay address nobody sends to.

const testSecret = "parley-test-secret"

// magicCookie is the STUN magic cookie (RFC 8489 §5); pion/stun keeps its
// constant unexported.
const magicCookie = 0x2112A442

// testClock is an injectable clock: time.Now plus an offset the test moves.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// testLogger logs at debug into a buffer printed only when the test fails.
func testLogger(t testing.TB) (*slog.Logger, *testlog.Buffer) {
	t.Helper()
	return testlog.New(t, "server log")
}

// baseConfig is a loopback server with default policy. PublicIP is a
// TEST-NET-3 address so that 127.0.0.1 is not the server's own relay
// address and the default policy applies to it; nothing is ever sent to
// 203.0.113.10 (clients learn it as their relay address and never use it).
func baseConfig() Config {
	return Config{
		Listen:     "127.0.0.1:0",
		PublicIP:   "203.0.113.10",
		Secret:     testSecret,
		UDPSockets: 2,
	}
}

// startServer starts a server with cfg and closes it when the test ends.
func startServer(t testing.TB, cfg Config, clock *testClock) *Server {
	t.Helper()
	log, _ := testLogger(t)
	s, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if clock != nil {
		s.now = clock.now
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// creds mints a credential valid for an hour on the server's clock.
func creds(s *Server, peerID string) (string, string) {
	return MintCredential(s.cfg.Secret, peerID, s.now().Add(time.Hour))
}

// pionClient is pion's TURN client over UDP, listening, closed at cleanup.
func pionClient(t testing.TB, s *Server, username, password string) *pionturn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pionClientOn(t, s.Addr().String(), conn, username, password)
}

func pionClientOn(t testing.TB, server string, conn net.PacketConn, username, password string) *pionturn.Client {
	t.Helper()
	clientLog, _ := testLogger(t)
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		TURNServerAddr: server,
		Username:       username,
		Password:       password,
		Realm:          DefaultRealm,
		Conn:           conn,
		RTO:            100 * time.Millisecond,
		LoggerFactory:  pionlog.Factory{Log: clientLog, Levels: pionLevels},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = conn.Close()
	})
	return c
}

// allocate allocates with a pion client and closes the relay at cleanup.
func allocate(t testing.TB, c *pionturn.Client) net.PacketConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	relay, err := c.AllocateWithContext(ctx)
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return relay
}

// turnCode extracts the TURN error code of an error from pion's client or
// rawClient, or 0.
func turnCode(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}
	var ce codeError
	if errors.As(err, &ce) {
		return int(ce)
	}
	return 0
}

// loopbackPeer is a UDP socket on 127.0.0.1 that echoes nothing: tests read
// from it directly.
func loopbackPeer(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// portOfAddr returns the port of a UDP/TCP address.
func portOfAddr(a net.Addr) uint16 {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return 0
	}
	return ap.Port()
}

// readWithin reads one datagram within d.
func readWithin(conn net.PacketConn, d time.Duration) ([]byte, net.Addr, error) {
	buf := make([]byte, 1600)
	if err := conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, nil, err
	}
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		return nil, nil, err
	}
	return buf[:n], from, nil
}

// codeError is a TURN error response seen by rawClient.
type codeError int

func (e codeError) Error() string { return fmt.Sprintf("TURN error %d", int(e)) }

// rawClient speaks just enough TURN over a UDP socket to build requests
// pion's client would never send (an IPv4-mapped IPv6 peer address, a
// ChannelBind to a refused peer, a Refresh on demand).
type rawClient struct {
	t                  testing.TB
	conn               *net.UDPConn
	server             *net.UDPAddr
	username, password string
	realm              string
	nonce              string
}

func newRawClient(t testing.TB, s *Server, username, password string) *rawClient {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawClient{t: t, conn: conn, server: s.Addr().(*net.UDPAddr), username: username, password: password}
}

// request sends an authenticated request (after a 401/438 challenge round
// when needed) and returns the success response or a codeError.
func (c *rawClient) request(method stun.Method, attrs ...stun.Setter) (*stun.Message, error) {
	for range 3 {
		setters := []stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}
		setters = append(setters, attrs...)
		if c.nonce != "" {
			setters = append(setters,
				stun.NewUsername(c.username), stun.NewRealm(c.realm), stun.NewNonce(c.nonce),
				stun.NewLongTermIntegrity(c.username, c.realm, c.password))
		}
		setters = append(setters, stun.Fingerprint)
		msg, err := stun.Build(setters...)
		if err != nil {
			return nil, err
		}
		res, err := c.roundTrip(msg)
		if err != nil {
			return nil, err
		}
		if res.Type.Class == stun.ClassSuccessResponse {
			return res, nil
		}
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(res); err != nil {
			return nil, fmt.Errorf("error response without code: %w", err)
		}
		if (code.Code == stun.CodeUnauthorized && c.nonce == "") || code.Code == stun.CodeStaleNonce {
			var nonce stun.Nonce
			var realm stun.Realm
			if nonce.GetFrom(res) == nil && realm.GetFrom(res) == nil {
				c.nonce, c.realm = nonce.String(), realm.String()
				continue
			}
		}
		return nil, codeError(code.Code)
	}
	return nil, errors.New("no answer after challenges")
}

func (c *rawClient) roundTrip(msg *stun.Message) (*stun.Message, error) {
	for attempt := range 3 {
		if _, err := c.conn.WriteToUDP(msg.Raw, c.server); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(time.Duration(attempt+1) * 300 * time.Millisecond)
		for {
			_ = c.conn.SetReadDeadline(deadline)
			buf := make([]byte, 1600)
			n, err := c.conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, err
			}
			if !stun.IsMessage(buf[:n]) {
				continue // ChannelData or a Data indication
			}
			res := &stun.Message{Raw: buf[:n]}
			if err := res.Decode(); err != nil {
				return nil, err
			}
			if res.TransactionID == msg.TransactionID {
				return res, nil
			}
		}
	}
	return nil, errors.New("request timed out")
}

// allocate asks for a UDP relay and returns the relayed address.
func (c *rawClient) allocate() (netip.AddrPort, error) {
	return c.allocateTransport(17) // REQUESTED-TRANSPORT: 17 is UDP, 6 is TCP (RFC 8656, RFC 6062)
}

func (c *rawClient) allocateTransport(proto byte) (netip.AddrPort, error) {
	res, err := c.request(stun.MethodAllocate, rawAttr(stun.AttrRequestedTransport, []byte{proto, 0, 0, 0}))
	if err != nil {
		return netip.AddrPort{}, err
	}
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(res, stun.AttrXORRelayedAddress); err != nil {
		return netip.AddrPort{}, err
	}
	ip, _ := netip.AddrFromSlice(relayed.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(relayed.Port)), nil
}

func (c *rawClient) refresh(lifetime time.Duration) error {
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, uint32(lifetime/time.Second))
	_, err := c.request(stun.MethodRefresh, rawAttr(stun.AttrLifetime, v))
	return err
}

func (c *rawClient) createPermission(peer stun.Setter) error {
	_, err := c.request(stun.MethodCreatePermission, peer)
	return err
}

func (c *rawClient) channelBind(number uint16, peer stun.Setter) error {
	v := make([]byte, 4)
	binary.BigEndian.PutUint16(v, number)
	_, err := c.request(stun.MethodChannelBind, rawAttr(stun.AttrChannelNumber, v), peer)
	return err
}

// sendChannelData sends data on a bound channel (RFC 8656 §12.4).
func (c *rawClient) sendChannelData(number uint16, data []byte) error {
	frame := make([]byte, 4+len(data))
	binary.BigEndian.PutUint16(frame, number)
	binary.BigEndian.PutUint16(frame[2:], uint16(len(data)))
	copy(frame[4:], data)
	_, err := c.conn.WriteToUDP(frame, c.server)
	return err
}

// setterFunc adapts a function to stun.Setter.
type setterFunc func(*stun.Message) error

func (f setterFunc) AddTo(m *stun.Message) error { return f(m) }

func rawAttr(t stun.AttrType, v []byte) stun.Setter {
	return setterFunc(func(m *stun.Message) error { m.Add(t, v); return nil })
}

// peerAttr is an XOR-PEER-ADDRESS for an IPv4 peer.
func peerAttr(ip string, port int) stun.Setter {
	return setterFunc(func(m *stun.Message) error {
		a := stun.XORMappedAddress{IP: net.ParseIP(ip).To4(), Port: port}
		return a.AddToAs(m, stun.AttrXORPeerAddress)
	})
}

// mappedPeerAttr is an XOR-PEER-ADDRESS of family IPv6 carrying an
// IPv4-mapped address, encoded by hand (RFC 8489 §14.2): pion's encoder
// would turn ::ffff:127.0.0.1 back into IPv4 127.0.0.1.
func mappedPeerAttr(ip string, port int) stun.Setter {
	return setterFunc(func(m *stun.Message) error {
		addr := netip.MustParseAddr(ip).As16()
		var xorKey [16]byte
		binary.BigEndian.PutUint32(xorKey[:4], magicCookie)
		copy(xorKey[4:], m.TransactionID[:])
		v := make([]byte, 20)
		v[1] = 0x02 // family IPv6
		binary.BigEndian.PutUint16(v[2:], uint16(port)^uint16(magicCookie>>16))
		for i := range 16 {
			v[4+i] = addr[i] ^ xorKey[i]
		}
		m.Add(stun.AttrXORPeerAddress, v)
		return nil
	})
}

// waitFor polls cond for up to two seconds: counters are bumped by server
// goroutines.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustContain fails unless every want is in got.
func mustContain(t testing.TB, got []string, want ...string) {
	t.Helper()
	joined := strings.Join(got, " ")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("%q does not contain %q", got, w)
		}
	}
}
