// Package server wires Parley's parts into one process: the web client,
// the signaling hub, and the embedded TURN relay, behind one HTTP listener.
// cmd/parley parses configuration and calls it; tests start it in-process.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/config"
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
}

// New builds a Server from a validated configuration. It opens no sockets.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	policy, err := signaling.ParsePolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	if s.sfu, err = newSFU(cfg, log); err != nil {
		return nil, err
	}
	if s.turn, err = newTURN(cfg, uint16(s.sfu.Port()), log); err != nil {
		s.sfu.Close()
		return nil, err
	}
	var publicHost string
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("public_url: %w", err)
		}
		publicHost = u.Host
	}
	s.hub = signaling.NewHub(signaling.Options{
		MeshMax:       cfg.MeshMax,
		MeshDown:      cfg.EffectiveMeshDown(),
		MeshDownDelay: cfg.MeshDownDelay,
		RoomMax:       cfg.RoomMax,
		Policy:        policy,
		ICEServers:    s.iceServers,
		SFU:           sfuAdapter{s.sfu},
		PublicHost:    publicHost,
		Logger:        log.With("part", "signaling"),
	})
	adminAPI, err := admin.New(s.hub, s.adminToken(), log.With("part", "admin"))
	if err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("/ws", s.hub)
	s.mux.Handle("/api/admin/", adminAPI)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.Handle("/", web.Handler())
	return s, nil
}

// adminToken is the configured admin token, or a random one that is
// logged once so the operator can use it until the next start.
func (s *Server) adminToken() string {
	if s.cfg.AdminToken != "" {
		return s.cfg.AdminToken
	}
	b := make([]byte, 18)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.log.Warn("no admin_token configured; generated one for this run (set admin_token or PARLEY_ADMIN_TOKEN to keep it)", "admin_token", tok)
	return tok
}

// newTURN builds the embedded TURN server from the config, or returns nil
// when it is off.
// sfuPort is the SFU's media port, which relays may reach on the server's
// own address.
func newTURN(cfg config.Config, sfuPort uint16, log *slog.Logger) (*turn.Server, error) {
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
		CertFile:              cfg.TLS.CertFile,
		KeyFile:               cfg.TLS.KeyFile,
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
func (s *Server) Handler() http.Handler { return s.mux }

// SFU returns the media server.
func (s *Server) SFU() *sfu.Server { return s.sfu }

// TURN returns the embedded TURN server, or nil when it is off.
func (s *Server) TURN() *turn.Server { return s.turn }

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		s.sfu.Close()
		return fmt.Errorf("listen %s: %w", s.cfg.HTTP, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: every
// client is told the server is going away before its connection closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.sfu.Close()
	if s.turn != nil {
		if err := s.turn.Start(ctx); err != nil {
			ln.Close()
			return fmt.Errorf("start turn: %w", err)
		}
		defer s.turn.Close()
	}
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	tlsOn := s.cfg.TLS.CertFile != ""
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- hs.ServeTLS(ln, s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	s.log.Info("parley listening", "addr", ln.Addr().String(), "tls", tlsOn, "url", s.url(ln.Addr()))

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	hubErr := s.hub.Shutdown(sctx)
	httpErr := hs.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(hubErr, httpErr)
}

// url is the address to print for people: the public URL, or localhost.
func (s *Server) url(addr net.Addr) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if s.cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	port := "8080"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	return fmt.Sprintf("%s://localhost:%s", scheme, port)
}
