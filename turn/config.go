package turn

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Defaults. Each is what Parley uses when the Config field is zero.
const (
	// DefaultListen is the IANA-registered STUN/TURN port for UDP and TCP
	// (RFC 8489, RFC 8656).
	DefaultListen = ":3478"
	// DefaultRealm is the STUN realm (RFC 8489 §9.2); with REST credentials
	// it only has to be the same on both sides, so a constant is fine.
	DefaultRealm = "parley"
	// DefaultCredentialTTL is how long a minted credential can start new
	// allocations. An hour covers a join plus ICE restarts; calls longer
	// than that keep their relay because expiry is checked only at
	// Allocate.
	DefaultCredentialTTL = time.Hour
	// DefaultRelayPortMin and DefaultRelayPortMax are the IANA dynamic
	// range (RFC 6335), coturn's default too, so firewall rules written for
	// coturn fit.
	DefaultRelayPortMin = 49152
	DefaultRelayPortMax = 65535
	// DefaultMaxAllocationsPerUser bounds one credential: a browser uses one
	// allocation per ICE transport and address family, and a few more
	// during an ICE restart; 10 leaves room without letting one leaked
	// credential pin hundreds of relay ports.
	DefaultMaxAllocationsPerUser = 10
	// DefaultMaxAllocationsPerIP bounds one client address (one /64 for
	// IPv6): a NAT with a few dozen participants behind it still fits.
	DefaultMaxAllocationsPerIP = 64
	// DefaultMaxAllocations bounds the server: each allocation holds one UDP
	// socket and one goroutine; 10,000 stays far below the default relay
	// range (16,384 ports) and typical file-descriptor limits.
	DefaultMaxAllocations = 10000
)

// listenOff is the Listen value that disables the embedded server.
const listenOff = "off"

// Config is the TURN part of Parley's configuration; cmd/ maps the config
// file into it. Zero fields take the defaults above.
type Config struct {
	// Listen is the UDP and TCP listen address, default ":3478". "off" or
	// "" disables the embedded server (an external coturn is used; see
	// ExternalURLs).
	Listen string
	// TLSListen is the TURNS listen address (e.g. ":5349", or ":443" to get
	// through firewalls that only let TLS out). It is used only when
	// GetCertificate is set.
	TLSListen string
	// GetCertificate gives TURNS its certificates: Parley passes the same
	// source as its HTTPS listener (ACME, or certificate files reloaded
	// when they change: internal/certfile), so one renewal serves both.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// PublicIP is the relay address advertised to clients. Default: the
	// Listen IP when Listen names one (relays are bound to it), else the
	// first non-loopback, non-link-local IPv4 address of the host, else
	// 127.0.0.1; a loopback address is logged as a warning. Behind a 1:1
	// NAT (most clouds) set it to the public address.
	PublicIP string
	// Realm is the STUN realm, default "parley".
	Realm string
	// Secret is the shared secret of the REST credentials. Empty: a random
	// one is generated and a warning logged, since a restart then
	// invalidates every credential handed out before it.
	Secret string
	// CredentialTTL is how long a minted credential may start allocations,
	// default 1h.
	CredentialTTL time.Duration
	// AllowPeers are exceptions to the relay policy: special-purpose
	// addresses the relay may nevertheless reach (a LAN-only deployment
	// lists its LAN; tests list 127.0.0.0/8).
	AllowPeers []netip.Prefix
	// RelayPortMin and RelayPortMax bound the relay ports, default
	// 49152-65535.
	RelayPortMin, RelayPortMax uint16
	// SelfPorts are extra ports on the server's own addresses that relays
	// may send to (the SFU's media port). The relay range is always
	// allowed; nothing else on the server is.
	SelfPorts []uint16
	// MaxAllocationsPerUser caps allocations per TURN username, default 10.
	MaxAllocationsPerUser int
	// MaxAllocationsPerIP caps allocations per client IPv4 address or IPv6
	// /64, default 64.
	MaxAllocationsPerIP int
	// MaxAllocations caps allocations server-wide, default 10000.
	MaxAllocations int
	// URLHost is the host name put in turn: URLs, default PublicIP. With
	// TURNS it must be a name the certificate covers.
	URLHost string
	// ExternalURLs are turn:/turns: URLs of an external TURN server (coturn
	// with use-auth-secret and static-auth-secret set to Secret). They are
	// offered with the same minted credentials, instead of the embedded
	// server when Listen is "off", or besides it.
	ExternalURLs []string
	// UDPSockets is how many SO_REUSEPORT UDP sockets share the Listen
	// port, so that reads spread over CPUs (pion/turn runs one read loop
	// per socket). Default: GOMAXPROCS on Linux; 1 elsewhere.
	UDPSockets int
}

// disabled reports whether the embedded server is off.
func (c *Config) disabled() bool {
	return c.Listen == "" || strings.EqualFold(c.Listen, listenOff)
}

// normalize fills defaults and validates, returning the config New keeps,
// the parsed public IP, and warnings to log. Errors wrap ErrInvalidConfig.
func normalize(cfg Config, log *slog.Logger) (Config, netip.Addr, error) {
	invalid := func(format string, args ...any) (Config, netip.Addr, error) {
		return cfg, netip.Addr{}, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	for _, u := range cfg.ExternalURLs {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return invalid("external URL %q does not start with turn: or turns:", u)
		}
	}
	if cfg.CredentialTTL < 0 {
		return invalid("credential TTL %v is negative", cfg.CredentialTTL)
	}
	if cfg.CredentialTTL == 0 {
		cfg.CredentialTTL = DefaultCredentialTTL
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Secret == "" {
		if len(cfg.ExternalURLs) > 0 {
			// A random secret could never match the external server's.
			return invalid("external TURN URLs need the shared secret the external server uses")
		}
		secret, err := randomSecret()
		if err != nil {
			return cfg, netip.Addr{}, err
		}
		cfg.Secret = secret
		log.Warn("turn: no secret configured; using a random one, so restarting the server invalidates every TURN credential handed out before")
	}
	if cfg.disabled() {
		cfg.Listen = listenOff
		return cfg, netip.Addr{}, nil
	}

	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil {
		return invalid("listen address %q: %v", cfg.Listen, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return invalid("listen address %q: port %q", cfg.Listen, port)
	}
	if cfg.TLSListen != "" {
		if cfg.GetCertificate == nil {
			log.Warn("turn: TURNS listen address set but no certificate configured; TURNS stays off", "tls_listen", cfg.TLSListen)
			cfg.TLSListen = ""
		} else if _, _, err := net.SplitHostPort(cfg.TLSListen); err != nil {
			return invalid("TLS listen address %q: %v", cfg.TLSListen, err)
		}
	}

	if cfg.RelayPortMin == 0 {
		cfg.RelayPortMin = DefaultRelayPortMin
	}
	if cfg.RelayPortMax == 0 {
		cfg.RelayPortMax = DefaultRelayPortMax
	}
	if cfg.RelayPortMin > cfg.RelayPortMax {
		return invalid("relay port range %d-%d is empty", cfg.RelayPortMin, cfg.RelayPortMax)
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if cfg.MaxAllocationsPerIP == 0 {
		cfg.MaxAllocationsPerIP = DefaultMaxAllocationsPerIP
	}
	if cfg.MaxAllocations == 0 {
		cfg.MaxAllocations = DefaultMaxAllocations
	}
	if cfg.MaxAllocationsPerUser < 0 || cfg.MaxAllocationsPerIP < 0 || cfg.MaxAllocations < 0 {
		return invalid("allocation limits must not be negative")
	}
	if cfg.UDPSockets <= 0 {
		cfg.UDPSockets = defaultUDPSockets()
	}

	var public netip.Addr
	if cfg.PublicIP == "" {
		// Relays bind to a specific listen IP when there is one, so that is
		// the address to advertise (a server on 127.0.0.1 relays on
		// 127.0.0.1); behind a NAT the operator sets PublicIP.
		if listenIP, err := netip.ParseAddr(listenHost(cfg.Listen)); err == nil && !listenIP.Unmap().IsUnspecified() {
			public = listenIP.Unmap()
		} else {
			public = detectPublicIP()
		}
		if !public.IsValid() {
			public = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	} else {
		var err error
		if public, err = netip.ParseAddr(cfg.PublicIP); err != nil {
			return invalid("public IP %q: %v", cfg.PublicIP, err)
		}
		public = public.Unmap()
		if public.IsUnspecified() || public.IsMulticast() || public.Zone() != "" {
			return invalid("public IP %q cannot be a relay address", cfg.PublicIP)
		}
	}
	if public.IsLoopback() {
		log.Warn("turn: advertising a loopback relay address; only clients on this machine can use the relay (set the TURN public IP)", "public_ip", public.String())
	}
	cfg.PublicIP = public.String()
	if cfg.URLHost == "" {
		cfg.URLHost = cfg.PublicIP
	}
	return cfg, public, nil
}

// listenHost returns the host part of a host:port address, "" if none.
func listenHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// randomSecret returns 32 random bytes in base64: as strong as HMAC-SHA1's
// block allows to matter.
func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("turn: generate secret: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b[:]), nil
}

// detectPublicIP returns the first IPv4 address of the host that is neither
// loopback nor link-local, or the zero Addr.
func detectPublicIP() netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipnet.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() {
			return ip
		}
	}
	return netip.Addr{}
}

// defaultUDPSockets is one socket per CPU the scheduler uses where the
// kernel spreads SO_REUSEPORT datagrams over sockets (Linux), else one.
func defaultUDPSockets() int {
	if !reusePortBalances {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}
