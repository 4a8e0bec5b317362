package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
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
	cfg.SFU.UDPPort = 0 // a free port: never clash with a local `make run`
	cfg.SFU.Loopback = true
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

// TestBrowserSignalingDrop: A's signaling socket drops mid-call (as on a
// network blip). A reconnects and resumes as the same participant; B keeps
// A's tile the whole time (marked reconnecting, never removed); video keeps
// flowing both ways, and afterwards signaling still works (a screen share
// started after the resume reaches B).
func TestBrowserSignalingDrop(t *testing.T) {
	ts := testserver.Start(t, nil)
	b := browsertest.New(t)
	room := browserRoom("drop")
	pages := map[string]*browsertest.Page{}
	for _, n := range []string{"A", "B"} {
		pages[n] = b.NewPage(t, browserRoomURL(ts, room, n))
	}
	other := map[string]string{"A": "B", "B": "A"}
	for n, p := range pages {
		expectRemoteVideo(t, p, n, []string{other[n]}, nil, false)
	}
	id := browsertest.MustEval[string](pages["A"], `parley.id`)
	browsertest.MustEval[bool](pages["B"], `(() => {
	  window.tileGone = false; window.sawAway = false;
	  new MutationObserver(() => {
	    const t = document.querySelector('.tile[data-peer="A"]');
	    if (!t) tileGone = true;
	    else if (t.dataset.state === 'reconnecting') sawAway = true;
	  }).observe(document.body, { subtree: true, childList: true, attributes: true });
	  return true;
	})()`)

	start := time.Now()
	browsertest.MustEval[bool](pages["A"], `(parley.dropSignaling(), true)`)
	waitOrDump(t, pages["A"], "A", `parley.resumes === 1 && parley.state === 'in-call'`, browserJoinTimeout)
	t.Logf("A resumed %v after its socket dropped", time.Since(start).Round(time.Millisecond))
	if got := browsertest.MustEval[string](pages["A"], `parley.id`); got != id {
		t.Errorf("A came back as %s, want the same id %s", got, id)
	}
	for n, p := range pages {
		expectRemoteVideo(t, p, n+" after the resume", []string{other[n]}, nil, true)
	}
	if browsertest.MustEval[bool](pages["B"], `tileGone`) {
		t.Error("B removed A's tile while A was reconnecting")
	}
	pages["B"].MustWaitFor(`document.querySelector('.tile[data-peer="A"]').dataset.state !== 'reconnecting'`, 10*time.Second)
	t.Logf("B showed A as reconnecting meanwhile: %v", browsertest.MustEval[bool](pages["B"], `sawAway`))

	if err := pages["A"].Click("#screen-toggle"); err != nil {
		t.Fatal(err)
	}
	expectRemoteVideo(t, pages["B"], "B with A sharing after the resume", []string{"A", "A (screen)"}, nil, false)
}
