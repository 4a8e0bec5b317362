// Package server wires Parley's parts into one process: the web client,
// the signaling hub, the SFU and the embedded TURN relay behind one HTTP(S)
// listener, plus a separate metrics listener and, with ACME, a plain-HTTP
// challenge listener. cmd/parley parses configuration and calls it; tests
// start it in-process.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/metrics"
	"github.com/parleyhq/parley/sfu"
	"github.com/parleyhq/parley/signaling"
	"github.com/parleyhq/parley/turn"
	"github.com/parleyhq/parley/web"
)

// shutdownGrace bounds a graceful shutdown: clients get a server-shutdown
// notice and this long to close before connections are cut.
const shutdownGrace = 5 * time.Second

// Server is one running Parley.
type Server struct {
	cfg  config.Config
	log  *slog.Logger
	hub  *signaling.Hub
	turn *turn.Server // nil when the embedded TURN server is off
	sfu  *sfu.Server
	mux  *http.ServeMux

	handler http.Handler // mux behind the trusted-proxy rewrite
	// cluster is this node's membership of a cluster (cluster.go); nil alone
	cluster *cluster.Node
	metrics *metrics.Metrics
	ready   *readiness
	tls     *tlsSetup // nil: plain HTTP
	version string
	hooks   *TestHooks // nil but in tests (WithTestHooks)
}

// Option changes how New builds a Server.
type Option func(*Server)

// WithVersion sets the version exported as parley_build_info.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// New builds a Server from a validated configuration. It opens no sockets
// except the SFU's UDP port.
func New(cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	policy, err := signaling.ParsePolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, version: "dev"}
	for _, o := range opts {
		o(s)
	}
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	auth, err := newAuthorizer(cfg)
	if err != nil {
		return nil, err
	}
	if !web.HasVendor() {
		return nil, web.ErrNoVendor // a room page that cannot encrypt: refuse to start
	}
	if s.tls, err = s.newTLS(); err != nil {
		return nil, err
	}
	if s.sfu, err = newSFU(cfg, log); err != nil {
		return nil, err
	}
	if s.turn, err = newTURN(cfg, uint16(s.sfu.Port()), s.tls.getCertificate(), log); err != nil {
		s.sfu.Close()
		return nil, err
	}
	if s.cluster, err = newCluster(cfg, log, s.hooks.clusterHooks()); err != nil {
		s.sfu.Close()
		return nil, err
	}
	s.ready = &readiness{turn: s.turn, cluster: s.cluster}
	s.hub = signaling.NewHub(signaling.Options{
		MeshMax:       cfg.MeshMax,
		MeshDown:      cfg.EffectiveMeshDown(),
		MeshDownDelay: cfg.MeshDownDelay,
		ResumeGrace:   resumeGrace(cfg.ResumeGrace),
		RoomMax:       cfg.RoomMax,
		MaxFileBytes:  int64(cfg.MaxFileBytes),
		Policy:        policy,
		ICEServers:    s.iceServers,
		SFU:           sfuAdapter{s.sfu},
		PublicURL:     cfg.PublicURL,
		Origins:       cfg.AllowedOrigins,
		Logger:        log.With("part", "signaling"),
		Authorizer:    auth,
		Observer:      s.newMetrics(),

		// Rooms whose clients do not encrypt (docs/e2ee.md).
		UnencryptedRooms: cfg.E2EE.UnencryptedRooms,
		Cluster:          s.clusterSeam(),
	})
	adminAPI, err := admin.New(s.adminHub(), s.adminToken(), log.With("part", "admin"))
	if err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("/ws", s.hub)
	s.mux.Handle("/api/admin/", adminAPI.WithSFU(s.sfu))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.Handle("GET /readyz", s.ready)
	s.mux.Handle("/", web.Handler(web.Options{EmbedOrigins: cfg.EmbedOrigins}))
	s.handler = hsts(cfg.HSTS(), trustProxies(proxies, s.mux))
	s.hooks.fill(s)
	return s, nil
}

// newMetrics builds the registry over the hub (set right after), the SFU
// and the TURN server.
func (s *Server) newMetrics() *metrics.Metrics {
	src := metrics.Sources{
		Rooms:   func() []signaling.RoomInfo { return s.hub.RoomCounts() },
		SFU:     s.sfu.Stats,
		Version: s.version,
	}
	if s.turn != nil && !s.turn.Disabled() {
		src.TURN = s.turn.Stats
	}
	s.metrics = metrics.New(src)
	return s.metrics
}

// adminToken is the configured admin token. Without one the admin API is
// locked with a random token that is never shown: tokens do not belong in
// logs. (cmd/parley prints a one-run token on an interactive terminal.)
func (s *Server) adminToken() string {
	if s.cfg.AdminToken != "" {
		return s.cfg.AdminToken
	}
	b := make([]byte, 18)
	rand.Read(b)
	s.log.Warn("no admin_token configured: the admin API and page are locked for this run; set admin_token_file (docs/admin.md)")
	return base64.RawURLEncoding.EncodeToString(b)
}

// newTURN builds the embedded TURN server from the config, or returns nil
// when it is off. sfuPort is the SFU's media port, which relays may reach
// on the server's own address; getCert, the HTTPS certificates, serve TURN
// over TLS too.
func newTURN(cfg config.Config, sfuPort uint16, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), log *slog.Logger) (*turn.Server, error) {
	if !cfg.TURNEnabled() && len(cfg.TURN.External) == 0 {
		return nil, nil
	}
	allow, err := cfg.AllowPeerPrefixes()
	if err != nil {
		return nil, err
	}
	t := cfg.TURN
	listen := t.Listen
	if !cfg.TURNEnabled() {
		listen = "off"
	}
	srv, err := turn.New(turn.Config{
		Listen:                listen,
		TLSListen:             t.TLSListen,
		GetCertificate:        getCert,
		PublicIP:              t.PublicIP,
		URLHost:               t.Host,
		Secret:                t.Secret,
		CredentialTTL:         t.CredentialTTL,
		AllowPeers:            allow,
		RelayPortMin:          uint16(t.RelayPortMin),
		RelayPortMax:          uint16(t.RelayPortMax),
		MaxAllocationsPerUser: t.MaxPerUser,
		MaxAllocationsPerIP:   t.MaxPerIP,
		MaxAllocations:        t.MaxAllocations,
		ExternalURLs:          t.External,
		SelfPorts:             []uint16{sfuPort},
	}, log.With("part", "turn"))
	if err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	return srv, nil
}

// iceServers mints the ICE servers for a joining participant.
func (s *Server) iceServers(peerID string) []signaling.ICEServer {
	if s.turn == nil {
		return nil
	}
	var out []signaling.ICEServer
	for _, is := range s.turn.ICEServers(peerID) {
		out = append(out, signaling.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	return out
}

// Handler is the HTTP handler for everything Parley serves.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves /metrics as the metrics listener does, token check
// included.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler(s.cfg.Metrics.Token) }

// Metrics returns the metrics registry and signaling counters.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// SFU returns the media server.
func (s *Server) SFU() *sfu.Server { return s.sfu }

// TURN returns the embedded TURN server, or nil when it is off.
func (s *Server) TURN() *turn.Server { return s.turn }

// Listeners are the sockets Serve uses. HTTP is required; the others are
// optional.
type Listeners struct {
	HTTP     net.Listener // the web client, /ws, /healthz, /readyz (TLS when configured)
	Metrics  net.Listener // /metrics
	ACMEHTTP net.Listener // ACME HTTP-01 challenges, redirect to https
}

// Run listens on the configured addresses and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var lns Listeners
	closeAll := func() {
		for _, ln := range []net.Listener{lns.HTTP, lns.Metrics, lns.ACMEHTTP} {
			if ln != nil {
				ln.Close()
			}
		}
		s.sfu.Close()
	}
	var err error
	if lns.HTTP, err = net.Listen("tcp", s.cfg.HTTP); err != nil {
		closeAll()
		return explainListen(fmt.Errorf("listen %s: %w", s.cfg.HTTP, err), httpListener, s.cfg.HTTP)
	}
	if s.cfg.MetricsEnabled() {
		if lns.Metrics, err = net.Listen("tcp", s.cfg.Metrics.Listen); err != nil {
			closeAll()
			return explainListen(fmt.Errorf("metrics.listen %s: %w", s.cfg.Metrics.Listen, err), metricsListener, s.cfg.Metrics.Listen)
		}
	}
	if s.tls != nil && s.tls.acmeHTTP != nil && s.cfg.TLS.ACMEHTTP != "" {
		if lns.ACMEHTTP, err = net.Listen("tcp", s.cfg.TLS.ACMEHTTP); err != nil {
			closeAll()
			return explainListen(fmt.Errorf("tls.acme_http_listen %s: %w", s.cfg.TLS.ACMEHTTP, err), acmeListener, s.cfg.TLS.ACMEHTTP)
		}
	}
	return s.ServeListeners(ctx, lns)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: every
// client is told the server is going away before its connection closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.ServeListeners(ctx, Listeners{HTTP: ln})
}

// ServeListeners is Serve with the optional listeners too.
func (s *Server) ServeListeners(ctx context.Context, lns Listeners) error {
	defer s.sfu.Close()
	if err := s.startCluster(ctx); err != nil {
		lns.HTTP.Close()
		return err
	}
	defer s.stopCluster() // after the hub's shutdown: relayed clients hear it first
	if s.turn != nil {
		if err := s.turn.Start(ctx); err != nil {
			lns.HTTP.Close()
			return explainTURN(fmt.Errorf("start turn: %w", err), s.cfg.TURN.Listen, s.cfg.TURN.TLSListen)
		}
		defer s.turn.Close()
	}
	errLog := httpErrorLog(s.log)
	type served struct {
		hs *http.Server
		ln net.Listener
	}
	var all []served
	add := func(h http.Handler, ln net.Listener) *http.Server {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		all = append(all, served{hs, ln})
		return hs
	}
	main := add(s.handler, lns.HTTP)
	if s.tls != nil {
		main.TLSConfig = s.tls.config
	}
	if lns.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.MetricsHandler())
		add(mux, lns.Metrics)
	}
	if lns.ACMEHTTP != nil && s.tls != nil && s.tls.acmeHTTP != nil {
		add(s.tls.acmeHTTP, lns.ACMEHTTP)
	}
	errc := make(chan error, len(all))
	for _, sv := range all {
		go func() {
			if sv.hs == main && s.tls != nil {
				errc <- sv.hs.ServeTLS(sv.ln, "", "") // certificates come from TLSConfig
			} else {
				errc <- sv.hs.Serve(sv.ln)
			}
		}()
	}
	s.ready.up.Store(true)
	s.log.Info("parley listening", "addr", lns.HTTP.Addr().String(), "tls", s.tls != nil, "url", s.url(lns.HTTP.Addr()), "version", s.version)
	if lns.Metrics != nil {
		s.log.Info("metrics listening", "addr", lns.Metrics.Addr().String(), "token", s.cfg.Metrics.Token != "")
	}
	if lns.ACMEHTTP != nil {
		s.log.Info("acme http-01 listening", "addr", lns.ACMEHTTP.Addr().String())
	}
	s.secureContextHint()

	var first error
	select {
	case err := <-errc:
		first = fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.ready.up.Store(false)
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	hubErr := s.hub.Shutdown(sctx)
	var errs []error
	for _, sv := range all {
		errs = append(errs, sv.hs.Shutdown(sctx))
	}
	for range len(all) - boolInt(first != nil) {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return errors.Join(append(errs, hubErr)...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// url is the address to print for people: the public URL, or localhost.
func (s *Server) url(addr net.Addr) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if s.cfg.TLSEnabled() {
		scheme = "https"
	}
	port := "8080"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	return fmt.Sprintf("%s://localhost:%s", scheme, port)
}

// resumeGrace maps the config's 0 (off) to the hub's negative (off).
func resumeGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
