// Package config holds Parley's one configuration value and the loaders that
// fill it: defaults, a YAML file, PARLEY_* environment variables and
// command-line flags, in rising order of precedence.
//
// Every key lives in the Config struct below; its `yaml` tag is its name in
// the file, its env name is PARLEY_ followed by the upper-cased path
// (turn.allow_peers → PARLEY_TURN_ALLOW_PEERS), and its `help` tag is the
// one line that docs/config.md shows. Nothing else needs updating when a key
// is added.
package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config is the whole of Parley's configuration. It is passed by value to the
// parts that need it; there are no package-level settings anywhere.
type Config struct {
	HTTP      string `yaml:"http" help:"HTTP listen address (the web client, /ws, /healthz)"`
	PublicURL string `yaml:"public_url" help:"URL people use to reach Parley, e.g. https://meet.example.org; used for invite links and the WebSocket Origin check, which then accepts exactly its scheme, host and port (empty: the request's own, https only over TLS)"`
	LogLevel  string `yaml:"log_level" help:"debug, info, warn or error"`
	LogFormat string `yaml:"log_format" help:"json or text"`

	// AllowedOrigins: the WebSocket Origin check (signaling/origin.go).
	AllowedOrigins []string `yaml:"allowed_origins" help:"further origins (scheme://host[:port], comma-separated) whose pages may open the WebSocket besides public_url's, e.g. an application embedding Parley"`

	MeshMax       int           `yaml:"mesh_max" help:"largest room that stays a full mesh; the next joiner switches it to the SFU (policy auto) or is refused (mesh-only)"`
	MeshDown      int           `yaml:"mesh_down" help:"an SFU room returns to mesh after staying at or below this size for 10 s; 0 means max(2, mesh_max-2)"`
	MeshDownDelay time.Duration `yaml:"mesh_down_delay" help:"how long an SFU room must stay at or below mesh_down before it returns to mesh (hysteresis against flapping)"`
	ResumeGrace   time.Duration `yaml:"resume_grace" help:"how long a participant whose connection dropped keeps its place (and its tile for the others) while it reconnects; 0 turns resuming off"`
	Policy        string        `yaml:"policy" help:"default room policy: auto, mesh-only or sfu-only"`
	RoomMax       int           `yaml:"room_max" help:"hard cap on participants per room, whatever the policy"`
	MaxFileBytes  int           `yaml:"max_file_bytes" help:"largest file people may send each other in a call (bytes; files go peer to peer or through the SFU, never stored); clients refuse larger offers"`

	AdminToken     string `yaml:"admin_token" help:"bearer token for the admin API and page; empty: the API is locked, except that an interactive start prints a one-run token on the terminal"`
	AdminTokenFile string `yaml:"admin_token_file" help:"file holding admin_token (must not be readable by group or others)"`

	TrustedProxies []string `yaml:"trusted_proxies" help:"CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (e.g. 127.0.0.1/32); empty: the headers are ignored"`

	// HTTP response headers (web/headers.go, internal/server/hsts.go).
	EmbedOrigins []string      `yaml:"embed_origins" help:"origins (https://app.example.org) allowed to show Parley in a frame; empty: no site may frame it (CSP frame-ancestors 'none', X-Frame-Options: DENY)"`
	HSTSMaxAge   time.Duration `yaml:"hsts_max_age" help:"max-age of Strict-Transport-Security when Parley serves TLS itself (never sent over plain HTTP or with an ACME staging directory); 0 turns it off"`

	TLS     TLS     `yaml:"tls"`
	SFU     SFU     `yaml:"sfu"`
	TURN    TURN    `yaml:"turn"`
	Metrics Metrics `yaml:"metrics"`
	Access  Access  `yaml:"access"`
	E2EE    E2EE    `yaml:"e2ee"`
	Cluster Cluster `yaml:"cluster"`
}

// Metrics configures the Prometheus endpoint (docs/install.md).
type Metrics struct {
	Listen    string `yaml:"listen" help:"listen address of the separate metrics listener (/metrics); off disables it"`
	Token     string `yaml:"token" help:"bearer token scrapers must send; empty: no token (keep listen on loopback or a private network)"`
	TokenFile string `yaml:"token_file" help:"file holding metrics.token (must not be readable by group or others)"`
}

// Access configures who may join rooms (docs/access.md). With none of it
// set every room is open.
type Access struct {
	PasswordHash    string   `yaml:"password_hash" help:"bcrypt hash (parley hash-password) of a password every room asks for; empty: none"`
	RoomPasswords   []string `yaml:"room_passwords" help:"per-room passwords as room=bcrypt-hash; a listed room asks for its own password instead of password_hash"`
	TokenSecret     string   `yaml:"token_secret" help:"HS256 secret (at least 32 bytes) that signs join tokens; empty: tokens are refused"`
	TokenSecretFile string   `yaml:"token_secret_file" help:"file holding access.token_secret (must not be readable by group or others)"`
	RequireToken    bool     `yaml:"require_token" help:"every join needs a valid token (Parley embedded in another application)"`
}

// SFU configures the media server used by rooms in SFU mode.
type SFU struct {
	UDPPort   int      `yaml:"udp_port" help:"the one UDP port every SFU connection uses (ICE UDP mux); open it in the firewall"`
	ListenIP  string   `yaml:"listen_ip" help:"address the SFU's UDP port is bound on; empty: every address"`
	PublicIPs []string `yaml:"public_ips" help:"addresses advertised for the SFU when the host is behind 1:1 NAT (default: the host's own addresses)"`
	Loopback  bool     `yaml:"loopback" help:"offer loopback ICE candidates (a browser on the same machine with no network; make run and tests turn it on)"`

	BandwidthAdaptation bool `yaml:"bandwidth_adaptation" help:"estimate each subscriber's downlink (transport-cc feedback, Google Congestion Control) and send it only the simulcast layers it can carry, pausing its lowest-priority video when even the lowest do not fit; off: every subscriber gets what its view asks for (comparisons, tests)"`
	Dynacast            bool `yaml:"dynacast" help:"tell each publisher which of its simulcast layers some subscriber receives, so that its browser stops encoding the others; off: publishers encode every layer (comparisons)"`
}

// TLS configures HTTPS on the HTTP listener.
type TLS struct {
	CertFile string `yaml:"cert_file" help:"PEM certificate chain; with key_file, Parley serves HTTPS"`
	KeyFile  string `yaml:"key_file" help:"PEM private key for cert_file"`

	ACMEHosts     []string `yaml:"acme_hosts" help:"host names to get certificates for from an ACME CA (Let's Encrypt); only these are answered"`
	ACMECacheDir  string   `yaml:"acme_cache_dir" help:"directory keeping ACME account and certificates across restarts (needed with acme_hosts)"`
	ACMEEmail     string   `yaml:"acme_email" help:"contact address given to the ACME CA (expiry warnings)"`
	ACMEHTTP      string   `yaml:"acme_http_listen" help:"plain-HTTP listener for ACME HTTP-01 challenges that redirects everything else to https, e.g. :80; empty: TLS-ALPN-01 on the HTTPS port only"`
	ACMEDirectory string   `yaml:"acme_directory_url" help:"ACME directory URL (default: Let's Encrypt production); the staging URL is handy for trials"`
}

// TURN configures the embedded TURN relay (see docs/turn.md).
type TURN struct {
	Listen         string        `yaml:"listen" help:"UDP and TCP listen address of the embedded TURN server; off disables it"`
	TLSListen      string        `yaml:"tls_listen" help:"TURNS (TLS) listen address; uses the HTTPS certificate (tls.cert_file or tls.acme_hosts)"`
	PublicIP       string        `yaml:"public_ip" help:"relay address advertised to clients (default: the host's first non-loopback IPv4)"`
	Host           string        `yaml:"host" help:"host name put in turn: URLs (default: public_ip)"`
	Secret         string        `yaml:"secret" help:"shared secret for REST credentials; empty: a random one per start (restarts invalidate live credentials)"`
	SecretFile     string        `yaml:"secret_file" help:"file holding turn.secret (must not be readable by group or others)"`
	CredentialTTL  time.Duration `yaml:"credential_ttl" help:"lifetime of a minted TURN credential"`
	AllowPeers     []string      `yaml:"allow_peers" help:"CIDRs the relay may reach although they are special-purpose (a LAN-only deployment lists its LAN)"`
	RelayPortMin   int           `yaml:"relay_port_min" help:"lowest UDP port for relayed allocations"`
	RelayPortMax   int           `yaml:"relay_port_max" help:"highest UDP port for relayed allocations"`
	MaxPerUser     int           `yaml:"max_allocations_per_user" help:"allocations one credential may hold"`
	MaxPerIP       int           `yaml:"max_allocations_per_ip" help:"allocations one client IP may hold"`
	MaxAllocations int           `yaml:"max_allocations" help:"allocations the whole server may hold"`
	External       []string      `yaml:"external_urls" help:"turn:/turns: URLs of an external coturn sharing secret, sent to clients instead of (or besides) the embedded server"`
}

// hstsDefault is hsts_max_age's default: 180 days, long enough that a
// browser that saw Parley once keeps to HTTPS between visits, short
// enough to recover from a move off HTTPS within a season.
const hstsDefault = 180 * 24 * time.Hour

// Default returns the configuration `make run` uses: everything on one box,
// reachable at http://localhost:8080, with the embedded TURN server on.
func Default() Config {
	return Config{
		HTTP:          ":8080",
		LogLevel:      "info",
		LogFormat:     "text",
		MeshMax:       6,
		MeshDownDelay: 10 * time.Second,
		ResumeGrace:   20 * time.Second,
		Policy:        "auto",
		RoomMax:       100,
		MaxFileBytes:  2 << 30,
		SFU:           SFU{UDPPort: 7882, BandwidthAdaptation: true, Dynacast: true},
		HSTSMaxAge:    hstsDefault,
		Metrics:       Metrics{Listen: "127.0.0.1:9464"},
		TURN: TURN{
			Listen:         ":3478",
			CredentialTTL:  time.Hour,
			RelayPortMin:   49152,
			RelayPortMax:   65535,
			MaxPerUser:     10,
			MaxPerIP:       64,
			MaxAllocations: 10000,
		},
	}
}

// EffectiveMeshDown is the size at or below which an SFU room goes back to
// mesh: mesh_down when set, else max(2, mesh_max-2) (docs/architecture.md §2).
func (c Config) EffectiveMeshDown() int {
	if c.MeshDown > 0 {
		return c.MeshDown
	}
	return max(2, c.MeshMax-2)
}

// TLSEnabled reports whether the HTTP listener serves HTTPS (from files
// or ACME).
func (c Config) TLSEnabled() bool {
	return c.TLS.CertFile != "" || len(c.TLS.ACMEHosts) > 0
}

// MetricsEnabled reports whether the metrics listener should run.
func (c Config) MetricsEnabled() bool {
	return c.Metrics.Listen != "" && c.Metrics.Listen != "off"
}

// TrustedProxyPrefixes parses trusted_proxies. Validate has already checked it.
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("trusted_proxies", c.TrustedProxies)
}

// TURNEnabled reports whether the embedded TURN server should run.
func (c Config) TURNEnabled() bool {
	return c.TURN.Listen != "" && c.TURN.Listen != "off"
}

// AllowPeerPrefixes parses turn.allow_peers. Validate has already checked it.
func (c Config) AllowPeerPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("turn.allow_peers", c.TURN.AllowPeers)
}

// parsePrefixes parses a list of CIDRs; errors name key.
func parsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR like 10.0.0.0/8: %w", key, s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Validate checks every key and says which one is wrong and why.
func (c Config) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.HTTP == "" {
		add("http: listen address is empty")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("public_url: %q is not an http(s) URL like https://meet.example.org", c.PublicURL)
		}
	}
	for _, o := range c.AllowedOrigins {
		if !isOrigin(o) {
			add("allowed_origins: %q is not an origin like https://app.example.com or http://10.0.0.5:8080 (scheme, host and port only, the host in ASCII)", o)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		add("log_format: %q is not json or text", c.LogFormat)
	}
	if c.MeshMax < 1 || c.MeshMax > 50 {
		add("mesh_max: %d is outside 1..50", c.MeshMax)
	}
	if c.MeshDown < 0 || (c.MeshDown > 0 && c.MeshDown >= c.MeshMax) {
		add("mesh_down: %d must be 0 (automatic) or below mesh_max (%d)", c.MeshDown, c.MeshMax)
	}
	if c.ResumeGrace < 0 || c.ResumeGrace > 10*time.Minute {
		add("resume_grace: %s is out of range (0 to 10m)", c.ResumeGrace)
	}
	if c.MeshDownDelay < 100*time.Millisecond {
		add("mesh_down_delay: %s is too short to prevent flapping (at least 100ms)", c.MeshDownDelay)
	}
	switch c.Policy {
	case "auto", "mesh-only", "sfu-only":
	default:
		add("policy: %q is not auto, mesh-only or sfu-only", c.Policy)
	}
	if c.MaxFileBytes < 1 || c.MaxFileBytes > 2<<30 {
		add("max_file_bytes: %d is out of range (1 to 2147483648: browsers cannot assemble larger files in memory-backed Blobs reliably)", c.MaxFileBytes)
	}
	if c.RoomMax < 1 {
		add("room_max: %d must be at least 1", c.RoomMax)
	}
	for _, o := range c.EmbedOrigins {
		if err := checkOrigin(o); err != nil {
			add("embed_origins: %v", err)
		}
	}
	if c.HSTSMaxAge < 0 {
		add("hsts_max_age: %s is negative (0 turns it off)", c.HSTSMaxAge)
	}
	if c.SFU.ListenIP != "" {
		if _, err := netip.ParseAddr(c.SFU.ListenIP); err != nil {
			add("sfu.listen_ip: %q is not an IP address", c.SFU.ListenIP)
		}
	}
	if c.SFU.UDPPort < 0 || c.SFU.UDPPort > 65535 {
		add("sfu.udp_port: %d is not a port (0 picks a free one)", c.SFU.UDPPort)
	}
	for _, ip := range c.SFU.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			add("sfu.public_ips: %q is not an IP address", ip)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls: cert_file and key_file go together")
	}
	if len(c.TLS.ACMEHosts) > 0 {
		if c.TLS.CertFile != "" {
			add("tls.acme_hosts: use either ACME or cert_file/key_file, not both")
		}
		if c.TLS.ACMECacheDir == "" {
			add("tls.acme_cache_dir: needed with acme_hosts, or every restart asks the CA again (and hits its rate limits)")
		}
		for _, h := range c.TLS.ACMEHosts {
			if h == "" || strings.ContainsAny(h, ":/ ") {
				add("tls.acme_hosts: %q is not a host name like meet.example.org", h)
			}
		}
	} else if c.TLS.ACMEHTTP != "" || c.TLS.ACMEEmail != "" || c.TLS.ACMEDirectory != "" {
		add("tls.acme_*: set only with tls.acme_hosts")
	}
	errs = append(errs, c.validateCluster()...)
	if _, err := c.AllowPeerPrefixes(); err != nil {
		add("%v", err)
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		add("%v", err)
	}
	add2 := func(err error) {
		if err != nil {
			add("%v", err)
		}
	}
	add2(c.Access.validate())
	add2(c.E2EE.validate())
	t := c.TURN
	if t.CredentialTTL < time.Minute {
		add("turn.credential_ttl: %s is shorter than a minute", t.CredentialTTL)
	}
	if t.RelayPortMin < 1024 || t.RelayPortMax > 65535 || t.RelayPortMin > t.RelayPortMax {
		add("turn.relay_port_min/max: %d..%d is not a range within 1024..65535", t.RelayPortMin, t.RelayPortMax)
	}
	if t.PublicIP != "" {
		if _, err := netip.ParseAddr(t.PublicIP); err != nil {
			add("turn.public_ip: %q is not an IP address", t.PublicIP)
		}
	}
	switch {
	case t.TLSListen == "":
	case len(c.TLS.ACMEHosts) > 0:
		// Browsers send the turns: URL's host as SNI; an IP gets no
		// certificate from ACME.
		if !slices.Contains(c.TLS.ACMEHosts, t.Host) {
			add("turn.tls_listen with ACME certificates: set turn.host to one of tls.acme_hosts (%s), the name TURN clients will ask the certificate for", strings.Join(c.TLS.ACMEHosts, ", "))
		}
	case c.TLS.CertFile == "":
		add("turn.tls_listen: needs a certificate: tls.cert_file and tls.key_file, or tls.acme_hosts")
	}
	if t.MaxPerUser < 1 || t.MaxPerIP < 1 || t.MaxAllocations < 1 {
		add("turn.max_allocations*: limits must be at least 1")
	}
	for _, u := range t.External {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			add("turn.external_urls: %q does not start with turn: or turns:", u)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// isOrigin reports whether s is exactly an http(s) origin, as the WebSocket
// Origin check compares them (signaling.ParseOrigin normalizes it).
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return false
	}
	for _, r := range u.Hostname() {
		if r >= 0x80 {
			return false
		}
	}
	return true
}
