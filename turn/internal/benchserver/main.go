// Command benchserver runs Parley's embedded TURN relay on its own, so that
// load tools (coturn's turnutils_uclient) can be pointed at it and its CPU
// measured apart from the load generator. See docs/benchmarks.md, "TURN relay".
//
//	go run ./turn/internal/benchserver -listen 127.0.0.1:3479 -secret s -allow 127.0.0.0/8 -self-ports 3480
//
// It prints the relay's counters when interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/parleyhq/parley/turn"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3479", "UDP+TCP listen address")
	publicIP := flag.String("public-ip", "127.0.0.1", "advertised relay address")
	secret := flag.String("secret", "benchsecret", "REST shared secret")
	allow := flag.String("allow", "127.0.0.0/8", "comma-separated allow_peers CIDRs")
	selfPorts := flag.String("self-ports", "3480", "comma-separated extra ports on this host relays may reach")
	sockets := flag.Int("sockets", 0, "SO_REUSEPORT UDP sockets (0: one per CPU)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}

	cfg := turn.Config{
		Listen:         *listen,
		PublicIP:       *publicIP,
		Secret:         *secret,
		UDPSockets:     *sockets,
		MaxAllocations: 100000,
		// Load tools open many allocations from one address and user.
		MaxAllocationsPerUser: 100000,
		MaxAllocationsPerIP:   100000,
	}
	for _, s := range strings.Split(*allow, ",") {
		if s = strings.TrimSpace(s); s != "" {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				fail(err)
			}
			cfg.AllowPeers = append(cfg.AllowPeers, p)
		}
	}
	for _, s := range strings.Split(*selfPorts, ",") {
		if s = strings.TrimSpace(s); s != "" {
			p, err := strconv.ParseUint(s, 10, 16)
			if err != nil {
				fail(err)
			}
			cfg.SelfPorts = append(cfg.SelfPorts, uint16(p))
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := turn.New(cfg, log)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		fail(err)
	}
	<-ctx.Done()
	st := srv.Stats()
	_ = srv.Close()
	fmt.Printf("allocations_total=%d packets_to_peers=%d packets_from_peers=%d bytes_to_peers=%d bytes_from_peers=%d self_port_drops=%d refused=%v\n",
		st.AllocationsTotal, st.PacketsToPeers, st.PacketsFromPeers, st.BytesToPeers, st.BytesFromPeers, st.SelfPortDrops, st.AllocationsRefused)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchserver:", err)
	os.Exit(1)
}
