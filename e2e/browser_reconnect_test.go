package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/browsertest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testserver"
)

// restartableServer is the real server on a fixed loopback port that a test
// can stop (gracefully: clients get server-shutdown) and start again.
type restartableServer struct {
	t      *testing.T
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startRestartable(t *testing.T, addr string) *restartableServer {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP = addr
	cfg.TURN.Listen = "off"
	cfg.AdminToken = testserver.AdminToken
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	// The port of the previous run may linger for a moment.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &restartableServer{t: t, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(rs.stop)
	return rs
}

func (rs *restartableServer) stop() {
	if rs.cancel == nil {
		return
	}
	rs.cancel()
	rs.cancel = nil
	if err := <-rs.done; err != nil && !errors.Is(err, context.Canceled) {
		rs.t.Logf("server stop: %v", err)
	}
}

// TestBrowserServerRestart: the server restarts under a call. Both pages say
// so, keep trying with back-off, and when it is back they re-join (new ids)
// and see each other again.
func TestBrowserServerRestart(t *testing.T) {
	rs := startRestartable(t, "127.0.0.1:0")
	ts := &testserver.Server{URL: "http://" + rs.addr}
	b := browsertest.New(t)
	room := browserRoom("restart")
	pages := map[string]*browsertest.Page{}
	for _, n := range []string{"A", "B"} {
		pages[n] = b.NewPage(t, browserRoomURL(ts, room, n))
	}
	other := map[string]string{"A": "B", "B": "A"}
	oldIDs := map[string]string{}
	for n, p := range pages {
		expectRemoteVideo(t, p, n, []string{other[n]}, nil, false)
		oldIDs[n] = browsertest.MustEval[string](p, `parley.id`)
	}

	rs.stop()
	for n, p := range pages {
		waitOrDump(t, p, n, `parley.state === 'reconnecting' && !document.querySelector('#banner').hidden`, browserJoinTimeout)
		msg := browsertest.MustEval[string](p, `document.querySelector('#banner .banner-text').textContent`)
		if msg != "Server restarting, reconnecting…" {
			t.Errorf("%s: banner says %q during the restart", n, msg)
		}
	}
	time.Sleep(time.Second) // a few failed attempts, with back-off
	start := time.Now()
	startRestartable(t, rs.addr)
	for n, p := range pages {
		waitOrDump(t, p, n, `parley.state === 'in-call' && document.querySelector('#banner').hidden`, 30*time.Second)
		if id := browsertest.MustEval[string](p, `parley.id`); id == oldIDs[n] {
			t.Errorf("%s kept its id %s across a server restart", n, id)
		}
	}
	for n, p := range pages {
		expectRemoteVideo(t, p, n+" after the restart", []string{other[n]}, nil, false)
	}
	t.Logf("call back with video %v after the server came back", time.Since(start).Round(time.Millisecond))
}
