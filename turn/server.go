// Package turn is Parley's embedded TURN relay (RFC 8656), built on
// pion/turn v5. It adds what a relay open to anyone who joins a room needs:
// time-limited REST credentials whose expiry does not cut long calls, a
// relay policy that keeps relays out of the operator's own network
// (internal/netpolicy), port rules for the server's own addresses, quotas,
// counters, and several SO_REUSEPORT sockets so reads spread over CPUs.
//
// Signaling calls ICEServers for every join; internal/server builds the
// Server from the configuration, Starts it and Closes it. With Listen
// "off" the Server only mints credentials for an external TURN server
// (docs/turn.md).
package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/netpolicy"
	"github.com/parleyhq/parley/internal/pionlog"
)

// Server is the embedded TURN relay. Build it with New, then Start it;
// ICEServers and Stats may be called at any time, from any goroutine.
type Server struct {
	cfg      Config
	log      *slog.Logger
	secret   []byte
	publicIP netip.Addr // unmapped; zero when disabled
	policy   *netpolicy.Policy
	quota    *quota
	now      func() time.Time // the clock credentials are minted and checked with; tests replace it

	counters   counters
	relays     relayRegistry
	fast       *fastPath
	relayCount atomic.Int64 // relay sockets open, against cfg.MaxAllocations
	urls       atomic.Pointer[[]string]
	clientConn atomic.Pointer[net.UDPConn] // the socket the fast path answers UDP clients from

	mu      sync.Mutex // guards the fields below
	started bool
	closed  bool
	done    chan struct{} // closed by Close once started
	pion    *pionturn.Server
	udp     []*net.UDPConn
	tcp     *guardedListener
	tls     *guardedListener
}

// New validates cfg, fills in defaults and returns a Server that does not
// listen yet. A nil logger discards logs. Configuration errors wrap
// ErrInvalidConfig.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, public, err := normalize(cfg, logger)
	if err != nil {
		return nil, err
	}
	policy, err := netpolicy.New(cfg.AllowPeers)
	if err != nil {
		return nil, fmt.Errorf("%w: allow peers: %w", ErrInvalidConfig, err)
	}
	s := &Server{
		cfg:      cfg,
		log:      logger,
		secret:   []byte(cfg.Secret),
		publicIP: public,
		policy:   policy,
		quota:    newQuota(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerIP),
		fast:     newFastPath(),
		now:      time.Now,
	}
	// Until Start knows the real ports, offer the configured ones.
	var udpPort, tlsPort int
	if !cfg.disabled() {
		udpPort = portOf(cfg.Listen)
		if cfg.TLSListen != "" {
			tlsPort = portOf(cfg.TLSListen)
		}
	}
	s.setURLs(udpPort, tlsPort)
	return s, nil
}

// Disabled reports whether the embedded relay is off (Listen "off"): Start
// does nothing and ICEServers offers only ExternalURLs.
func (s *Server) Disabled() bool { return s.cfg.disabled() }

// Start listens on UDP and TCP (and TLS when configured) and serves until
// ctx ends or Close is called. It returns once the sockets are open, so
// Addr is valid right after. On a disabled Server it does nothing.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return ErrAlreadyStarted
	}
	s.started = true
	s.done = make(chan struct{})
	if s.cfg.disabled() {
		s.log.Info("turn: embedded relay off", "external_urls", len(s.cfg.ExternalURLs))
		return nil
	}
	if err := s.listenLocked(ctx); err != nil {
		return err
	}
	go func(done <-chan struct{}) {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-done:
		}
	}(s.done)
	return nil
}

// listenLocked opens the sockets and starts pion/turn on them.
func (s *Server) listenLocked(ctx context.Context) (err error) {
	udp, tcpLn, err := listenUDPAndTCP(ctx, s.cfg.Listen, s.cfg.UDPSockets)
	if err != nil {
		return err
	}
	tcp := newGuardedListener(tcpLn, nil, s.cfg.MaxAllocations, s.log)
	var tlsL *guardedListener
	defer func() {
		if err != nil {
			for _, c := range udp {
				_ = c.Close()
			}
			_ = tcp.Close()
			if tlsL != nil {
				_ = tlsL.Close()
			}
		}
	}()
	if s.cfg.TLSListen != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", s.cfg.TLSListen)
		if err != nil {
			return fmt.Errorf("turn: listen tls %s: %w", s.cfg.TLSListen, err)
		}
		tlsL = newGuardedListener(ln, &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.cfg.GetCertificate,
		}, s.cfg.MaxAllocations, s.log)
	}

	udpPort := udp[0].LocalAddr().(*net.UDPAddr).Port
	deny := []uint16{uint16(udpPort)}
	tlsPort := 0
	if tlsL != nil {
		tlsPort = tlsL.Addr().(*net.TCPAddr).Port
		deny = append(deny, uint16(tlsPort))
	}
	var listenIPs []netip.Addr
	if host, _, err := net.SplitHostPort(s.cfg.Listen); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			listenIPs = append(listenIPs, ip)
		}
	}
	self := newSelfSet(s.publicIP, listenIPs, s.cfg.RelayPortMin, s.cfg.RelayPortMax, s.cfg.SelfPorts, deny)
	gen := s.newRelayGenerator(listenIPs, self)

	pcs := make([]pionturn.PacketConnConfig, len(udp))
	for i, c := range udp {
		pcs[i] = pionturn.PacketConnConfig{PacketConn: newListenConn(c, s.fast), RelayAddressGenerator: gen, PermissionHandler: s.permit}
	}
	lcs := []pionturn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen, PermissionHandler: s.permit}}
	if tlsL != nil {
		lcs = append(lcs, pionturn.ListenerConfig{Listener: tlsL, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	p, err := pionturn.NewServer(pionturn.ServerConfig{
		PacketConnConfigs: pcs,
		ListenerConfigs:   lcs,
		LoggerFactory:     pionlog.Factory{Log: s.log, Levels: pionLevels},
		Realm:             s.cfg.Realm,
		AuthHandler:       s.authenticate,
		QuotaHandler:      s.onQuota,
		EventHandler: pionturn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onAllocationCreated,
			OnAllocationDeleted: s.onAllocationDeleted,
			OnChannelCreated:    s.onChannelCreated,
			OnChannelDeleted:    s.onChannelDeleted,
		},
		// RFC 8656 §7.2 (from RFC 6156): without
		// REQUESTED-ADDRESS-FAMILY the relay is IPv4. pion otherwise picks
		// the family the client connected over, and an IPv6 client would
		// get 508 from a server that relays on IPv4.
		StrictAddressFamily: s.publicIP.Is4(),
	})
	if err != nil {
		return fmt.Errorf("turn: start pion/turn: %w", err)
	}
	s.pion, s.udp, s.tcp, s.tls = p, udp, tcp, tlsL
	s.clientConn.Store(udp[0])
	s.setURLs(udpPort, tlsPort)
	s.log.Info("turn: relay listening",
		"udp", udp[0].LocalAddr().String(), "udp_sockets", len(udp),
		"tcp", tcp.Addr().String(), "tls", tlsPort != 0,
		"public_ip", s.publicIP.String(),
		"relay_ports", fmt.Sprintf("%d-%d", s.cfg.RelayPortMin, s.cfg.RelayPortMax),
		"allow_peers", len(s.cfg.AllowPeers))
	return nil
}

// newRelayGenerator sets up relay sockets on the public address's family,
// bound to the listen IP when one was given, else to every address.
func (s *Server) newRelayGenerator(listenIPs []netip.Addr, self *selfSet) *relayGenerator {
	network, bind := "udp4", net.IPv4zero
	if s.publicIP.Is6() {
		network, bind = "udp6", net.IPv6unspecified
	}
	for _, ip := range listenIPs {
		ip = ip.Unmap()
		if !ip.IsUnspecified() && ip.Is4() == s.publicIP.Is4() {
			bind = net.IP(ip.AsSlice())
		}
	}
	return &relayGenerator{
		s:        s,
		network:  network,
		bindIP:   bind,
		publicIP: net.IP(s.publicIP.AsSlice()),
		self:     self,
	}
}

// Close stops the relay: listeners, TCP connections, allocations and their
// relay sockets. It is safe to call more than once and on a Server that was
// never started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.done != nil {
		close(s.done)
	}
	p := s.pion
	s.mu.Unlock()

	var errs []error
	if p != nil {
		// Closes the UDP sockets and (through guardedListener) every TCP
		// and TLS connection; pion then closes the allocations from its
		// read loops.
		if err := p.Close(); err != nil {
			errs = append(errs, fmt.Errorf("turn: close: %w", err))
		}
	}
	// Do not wait for pion's read loops to get round to it.
	for _, rc := range s.relays.snapshot() {
		if err := rc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("turn: close relay: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Addr returns the UDP address the relay listens on (the TCP listener
// shares its port), or nil before Start and when disabled.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.udp) == 0 {
		return nil
	}
	return s.udp[0].LocalAddr()
}

// tlsAddr returns the TURNS listen address, or nil.
func (s *Server) tlsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// portOf returns the port of a host:port address, 0 if there is none.
func portOf(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	return n
}
