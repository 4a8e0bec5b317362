package sigclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/client/sigclient/sigtest"
	"github.com/pion/transport/v4/test"
)

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next returns the next event, failing the test after a deadline.
func next(t *testing.T, c *sigclient.Client) sigclient.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events closed: %v", c.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return sigclient.Event{}
}

func TestJoinSignalKeyLeave(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t)
	ctx := ctxFor(t)

	a, err := sigclient.Dial(ctx, srv.WSURL, "r1", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.ID() == "" || len(a.Welcome().Peers) != 0 || a.Welcome().Mode != "mesh" {
		t.Fatalf("welcome = %+v", a.Welcome())
	}
	b, err := sigclient.Dial(ctx, srv.WSURL, "r1", "Grace")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if w := b.Welcome(); len(w.Peers) != 1 || w.Peers[0] != (sigclient.Peer{ID: a.ID(), Name: "Ada"}) {
		t.Fatalf("b's welcome peers = %+v", w.Peers)
	}
	if ev := next(t, a); ev.Type != sigclient.TypePeerJoined || ev.Peer.ID != b.ID() || ev.Peer.Name != "Grace" {
		t.Fatalf("a got %+v", ev)
	}

	if err := b.Signal(a.ID(), map[string]any{"candidate": nil}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, a)
	if ev.Type != sigclient.TypeSignal || ev.From != b.ID() || string(ev.Data) != `{"candidate":null}` {
		t.Fatalf("a got %+v (%s)", ev, ev.Raw)
	}
	if err := a.Key("", json.RawMessage(`{"pub":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, b); ev.Type != sigclient.TypeKey || ev.From != a.ID() || string(ev.Data) != `{"pub":"x"}` {
		t.Fatalf("b got %+v", ev)
	}

	if err := b.Leave(ctx); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if ev := next(t, a); ev.Type != sigclient.TypePeerLeft || ev.Peer.ID != b.ID() || ev.Reason != "left" {
		t.Fatalf("a got %+v", ev)
	}
	if err := b.Signal(a.ID(), 1); !errors.Is(err, sigclient.ErrClosed) && b.CloseCode() != 1000 {
		t.Fatalf("signal after leave: %v", err)
	}
}

func TestJoinRefused(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t, sigtest.WithRoomMax(1))
	ctx := ctxFor(t)
	a, err := sigclient.Dial(ctx, srv.WSURL, "r", "A")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = sigclient.Dial(ctx, srv.WSURL, "r", "B")
	var perr *sigclient.ProtocolError
	if !errors.As(err, &perr) || perr.Code != "room-full" || perr.Ref != "join" {
		t.Fatalf("second join: %v", err)
	}
}

func TestRawMode(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t)
	ctx := ctxFor(t)
	c, err := sigclient.Connect(ctx, srv.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendText([]byte("{nope")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, c); ev.ProtocolError() == nil || ev.Code != "bad-json" {
		t.Fatalf("got %+v", ev)
	}
	if err := c.Signal("x", 1); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, c); ev.Code != "not-joined" || ev.Ref != "signal" {
		t.Fatalf("got %+v", ev)
	}
	if _, err := c.Join(ctx, "r", "A"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Join(ctx, "r", "A")
	var perr *sigclient.ProtocolError
	if !errors.As(err, &perr) || perr.Code != "already-joined" {
		t.Fatalf("second join: %v", err)
	}
}

func TestServerEventsAndClose(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t, sigtest.WithPing(20*time.Millisecond))
	ctx := ctxFor(t)
	c, err := sigclient.Dial(ctx, srv.WSURL, "r", "A")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Pongs() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("client did not answer pings")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Broadcast(map[string]any{"type": "server-shutdown", "message": "bye", "reconnect": true})
	srv.Close()
	if ev := next(t, c); ev.Type != sigclient.TypeServerShutdown || !ev.Reconnect || ev.Message != "bye" {
		t.Fatalf("got %+v", ev)
	}
	<-c.Done()
	if err := c.Err(); err == nil {
		t.Fatal("no error after the server went away")
	}
	if _, ok := <-c.Events(); ok {
		t.Fatal("events still open after the connection ended")
	}
}

func TestContextEndsClient(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := sigclient.Dial(ctx, srv.WSURL, "r", "A")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client outlived its context")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("err = %v", c.Err())
	}
	c.Close()
	if err := c.Signal("x", 1); err == nil {
		t.Fatal("signal on a closed client succeeded")
	}
}

func TestCloseWithoutReadingEvents(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t)
	ctx := ctxFor(t)
	a, err := sigclient.Dial(ctx, srv.WSURL, "r", "A")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // events pile up unread in a
		b, err := sigclient.Dial(ctx, srv.WSURL, "r", strings.Repeat("b", i%5+1))
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(a.Err(), sigclient.ErrClosed) {
		t.Fatalf("err = %v", a.Err())
	}
}

func TestHandshakeError(t *testing.T) {
	ctx := ctxFor(t)
	_, err := sigclient.Dial(ctx, "ws://127.0.0.1:1/ws", "r", "A", sigclient.WithHandshakeTimeout(time.Second))
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

func TestDrop(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // first registered, so it runs after the server stops
	srv := sigtest.New(t)
	ctx := ctxFor(t)
	a, err := sigclient.Dial(ctx, srv.WSURL, "r", "A")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sigclient.Dial(ctx, srv.WSURL, "r", "B", sigclient.WithResume("not-a-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if w := b.Welcome(); w.Resumed {
		t.Fatalf("the fake server resumed: %+v", w)
	}
	if ev := next(t, a); ev.Type != sigclient.TypePeerJoined {
		t.Fatalf("a got %+v", ev)
	}
	b.Drop()
	<-b.Done()
	if err := b.Err(); !errors.Is(err, sigclient.ErrConnectionLost) || !errors.Is(err, sigclient.ErrDropped) {
		t.Fatalf("err after Drop = %v", err)
	}
	if code := b.CloseCode(); code != 0 {
		t.Fatalf("close code after Drop = %d, want 0 (no close frame)", code)
	}
	// The fake server has no resume grace: the drop is a departure, and
	// not a "left" one, since no close frame came.
	if ev := next(t, a); ev.Type != sigclient.TypePeerLeft || ev.Peer.ID != b.ID() || ev.Reason == "left" {
		t.Fatalf("a got %+v", ev)
	}
}
