package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/parleyhq/parley/internal/config"
)

func testConfig() config.Config {
	cfg := config.Default()
	cfg.HTTP, cfg.TURN.Listen, cfg.Metrics.Listen, cfg.SFU.UDPPort = "127.0.0.1:0", "off", "off", 0
	cfg.SFU.ListenIP = "127.0.0.1"
	cfg.AdminToken = "t"
	return cfg
}

// TestPortInUseNamesTheFlag: a busy SFU, HTTP or TURN port stops the start
// with a message that says which socket it was and which flag moves it.
func TestPortInUseNamesTheFlag(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	busyUDP := udp.LocalAddr().(*net.UDPAddr).Port
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	busyTCP := tcp.Addr().String()

	// SFU: fails in New, where it binds its port.
	cfg := testConfig()
	cfg.SFU.UDPPort = busyUDP
	_, err = New(cfg, log)
	wantPortError(t, "sfu", err, "--sfu-port", "127.0.0.1:"+strconv.Itoa(busyUDP))

	// HTTP and metrics: fail in Run.
	for _, tc := range []struct {
		name, flag string
		set        func(*config.Config)
	}{
		{"http", "--http", func(c *config.Config) { c.HTTP = busyTCP }},
		{"metrics", "--metrics", func(c *config.Config) { c.Metrics.Listen = busyTCP }},
		{"turn", "--turn", func(c *config.Config) { c.TURN.Listen = busyTCP }},
	} {
		cfg := testConfig()
		tc.set(&cfg)
		srv, err := New(cfg, log)
		if err != nil {
			t.Fatalf("%s: New: %v", tc.name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a start that gets past its listeners returns at once
		err = srv.Run(ctx)
		wantPortError(t, tc.name, err, tc.flag, busyTCP)
	}
}

func wantPortError(t *testing.T, name string, err error, flag, addr string) {
	t.Helper()
	if !errors.Is(err, ErrPortInUse) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("%s on a busy port: %v, want ErrPortInUse", name, err)
	}
	if !strings.Contains(err.Error(), flag+" (") || !strings.Contains(err.Error(), addr) {
		t.Errorf("%s: %q does not name %s and %s", name, err, flag, addr)
	}
}
