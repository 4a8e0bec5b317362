// Package testserver starts a real Parley server on 127.0.0.1 for
// integration and browser tests, and stops it when the test ends.
package testserver

import (
	"context"
	"net"
	"testing"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
)

// AdminToken is the admin token test servers use unless mutate changes it.
const AdminToken = "test-admin-token"

// Server is a running test server.
type Server struct {
	URL    string // http://127.0.0.1:PORT
	WSURL  string // ws://127.0.0.1:PORT/ws
	Config config.Config
	Srv    *server.Server
}

// Start runs the real server on a random loopback port with the default
// configuration (TURN off) changed by mutate. Its log is printed only if the
// test fails.
func Start(t testing.TB, mutate func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.TURN.Listen = "off"
	cfg.SFU.UDPPort = 0 // a free port
	cfg.SFU.Loopback = true
	cfg.LogLevel = "debug"
	cfg.AdminToken = AdminToken
	if mutate != nil {
		mutate(&cfg)
	}
	log, _ := testlog.New(t, "server log")
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		t.Fatalf("testserver: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("testserver: shutdown: %v", err)
		}
	})
	addr := ln.Addr().String()
	return &Server{
		URL:    "http://" + addr,
		WSURL:  "ws://" + addr + "/ws",
		Config: cfg,
		Srv:    srv,
	}
}
