package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"

	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// These tests hold the real server to docs/protocol.md through sigclient,
// an implementation of the document that shares no code with the server:
// every refusal gets its documented code, and the connection then stays
// open or closes exactly as the error-code table says.

// protoNext returns the next event or fails after 5 s.
func protoNext(t *testing.T, c *sigclient.Client) sigclient.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("connection ended while waiting for a message: %v", c.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no message from the server within 5 s")
	}
	return sigclient.Event{}
}

// protoRefused expects an error event with code and ref, and that the
// connection is still usable afterwards.
func protoRefused(t *testing.T, c *sigclient.Client, code, ref string) {
	t.Helper()
	ev := protoNext(t, c)
	if ev.Type != sigclient.TypeError || ev.Code != code || ev.Ref != ref || ev.Message == "" {
		t.Fatalf("got %s, want an error with code %q, ref %q and a message", ev.Raw, code, ref)
	}
}

func protoConnect(t *testing.T, ctx context.Context, url string) *sigclient.Client {
	t.Helper()
	c, err := sigclient.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProtocolRefusals(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 6 })

	t.Run("before join", func(t *testing.T) {
		c := protoConnect(t, ctx, ts.WSURL)
		steps := []struct {
			send      string
			code, ref string
		}{
			{`{"type":"signal","to":"x","data":1}`, "not-joined", "signal"},
			{`{"type":"key","data":1}`, "not-joined", "key"},
			{`{"type":"leave"}`, "not-joined", "leave"},
			{`not json`, "bad-json", ""},
			{`[1,2]`, "bad-json", ""},
			{`{"type":"hello"}`, "unknown-type", "hello"},
			{`{"v":1}`, "unknown-type", ""},
			{`{"type":"join","room":"r","name":"A"}`, "missing-field", "join"},
			{`{"type":"join","v":2,"room":"r","name":"A"}`, "bad-version", "join"},
			{`{"type":"join","v":"1","room":"r","name":"A"}`, "bad-field", "join"},
			{`{"type":"join","v":1,"name":"A"}`, "missing-field", "join"},
			{`{"type":"join","v":1,"room":"a b","name":"A"}`, "bad-room", "join"},
			{`{"type":"join","v":1,"room":"` + strings.Repeat("r", 65) + `","name":"A"}`, "bad-room", "join"},
			{`{"type":"join","v":1,"room":"r","name":"   "}`, "bad-name", "join"},
			{`{"type":"join","v":1,"room":"r","name":"` + strings.Repeat("é", 65) + `"}`, "bad-name", "join"},
			{`{"type":"join","v":1,"room":"r","name":"A\u0007"}`, "bad-name", "join"},
			{`{"type":"join","v":1,"room":"r","name":7}`, "bad-field", "join"},
		}
		for _, s := range steps {
			if err := c.SendText([]byte(s.send)); err != nil {
				t.Fatal(err)
			}
			ev := protoNext(t, c)
			if ev.Type != sigclient.TypeError || ev.Code != s.code || (s.ref != "" && ev.Ref != s.ref) {
				t.Errorf("%s → %s, want code %q ref %q", s.send, ev.Raw, s.code, s.ref)
			}
		}
		if err := c.SendBinary([]byte(`{"type":"leave"}`)); err != nil {
			t.Fatal(err)
		}
		protoRefused(t, c, "bad-json", "")
		// Still open: a proper join now works, with the name trimmed
		// and a 64-code-point name accepted.
		name := strings.Repeat("é", 64)
		w, err := c.Join(ctx, "refusals", "  "+name+" ")
		if err != nil {
			t.Fatalf("join after refusals: %v", err)
		}
		if w.V != 1 || w.Name != name || w.Room != "refusals" || w.ID == "" || w.Mode != "mesh" ||
			w.Policy != "auto" || w.Limits != (sigclient.Limits{MeshMax: 6, MaxMessageBytes: 65536, MaxNameLength: 64}) {
			t.Errorf("welcome = %+v", w)
		}
		_, err = c.Join(ctx, "refusals", "again")
		var perr *sigclient.ProtocolError
		if !errors.As(err, &perr) || perr.Code != "already-joined" {
			t.Errorf("second join: %v, want already-joined", err)
		}
	})

	t.Run("relay", func(t *testing.T) {
		a, err := sigclient.Dial(ctx, ts.WSURL, "relay", "A")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := sigclient.Dial(ctx, ts.WSURL, "relay", "B")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		other, err := sigclient.Dial(ctx, ts.WSURL, "elsewhere", "O")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if ev := protoNext(t, a); ev.Type != sigclient.TypePeerJoined || ev.Peer.ID != b.ID() || ev.Peer.Name != "B" {
			t.Fatalf("A got %s, want peer-joined B", ev.Raw)
		}

		for _, to := range []string{"nobody", a.ID(), other.ID()} {
			if err := a.Signal(to, map[string]int{"x": 1}); err != nil {
				t.Fatal(err)
			}
			protoRefused(t, a, "unknown-peer", "signal")
		}
		if err := a.Key(other.ID(), "k"); err != nil {
			t.Fatal(err)
		}
		protoRefused(t, a, "unknown-peer", "key")
		if err := a.Send(map[string]any{"type": "signal", "to": b.ID()}); err != nil {
			t.Fatal(err)
		}
		protoRefused(t, a, "missing-field", "signal")

		// Relayed unchanged, with from and without to.
		if err := a.Signal(b.ID(), map[string]any{"candidate": nil}); err != nil {
			t.Fatal(err)
		}
		if ev := protoNext(t, b); ev.Type != sigclient.TypeSignal || ev.From != a.ID() || string(ev.Data) != `{"candidate":null}` ||
			strings.Contains(string(ev.Raw), `"to"`) {
			t.Errorf("B got %s", ev.Raw)
		}
		if err := a.Key("", []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		if ev := protoNext(t, b); ev.Type != sigclient.TypeKey || ev.From != a.ID() || string(ev.Data) != `[1,2]` ||
			strings.Contains(string(ev.Raw), `"to"`) {
			t.Errorf("B got %s", ev.Raw)
		}
		select {
		case ev := <-other.Events():
			t.Errorf("a participant of another room received %s", ev.Raw)
		case <-time.After(100 * time.Millisecond):
		}

		if err := b.Leave(ctx); err != nil {
			t.Errorf("leave: %v", err)
		}
		if ev := protoNext(t, a); ev.Type != sigclient.TypePeerLeft || ev.Peer.ID != b.ID() || ev.Reason != "left" {
			t.Errorf("A got %s, want peer-left B, reason left", ev.Raw)
		}
	})

	t.Run("too large closes with 1009", func(t *testing.T) {
		c, err := sigclient.Dial(ctx, ts.WSURL, "large", "A")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		big := `{"type":"key","data":"` + strings.Repeat("x", 64<<10) + `"}`
		if err := c.SendText([]byte(big)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("connection still open after a frame over 64 KiB")
		}
		if code := c.CloseCode(); code != 1009 {
			t.Errorf("close code %d (%v), want 1009", code, c.Err())
		}
		if ev, ok := <-c.Events(); !ok || ev.Code != "too-large" {
			t.Errorf("before closing, the server sent %s, want a too-large error", ev.Raw)
		}
	})

	t.Run("flood is rate-limited then closed with 1008", func(t *testing.T) {
		a, err := sigclient.Dial(ctx, ts.WSURL, "flood", "A")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := sigclient.Dial(ctx, ts.WSURL, "flood", "B")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		limited := 0
		for range 400 {
			if a.Signal(b.ID(), 1) != nil {
				break
			}
		}
		timeout := time.After(10 * time.Second)
	drain:
		for {
			select {
			case ev, ok := <-a.Events():
				if !ok {
					break drain
				}
				if ev.Code == "rate-limited" {
					limited++
				}
			case <-timeout:
				t.Fatal("flooding client not disconnected within 10 s")
			}
		}
		if limited < 1 {
			t.Error("no rate-limited error before the disconnect")
		}
		if code := a.CloseCode(); code != 1008 {
			t.Errorf("close code %d (%v), want 1008", code, a.Err())
		}
		// Nobody else is disturbed: B got the signals that were within
		// budget, then peer-left for A, and is still connected.
		for {
			ev := protoNext(t, b)
			if ev.Type == sigclient.TypePeerLeft && ev.Peer.ID == a.ID() {
				break
			}
			if ev.Type != sigclient.TypeSignal {
				t.Fatalf("B got %s", ev.Raw)
			}
		}
		if b.Err() != nil {
			t.Errorf("B was disconnected: %v", b.Err())
		}
	})

	t.Run("cross-site origin refused", func(t *testing.T) {
		_, err := sigclient.Connect(ctx, ts.WSURL, sigclient.WithHeader(http.Header{"Origin": {"https://evil.example"}}))
		var herr *sigclient.HandshakeError
		if !errors.As(err, &herr) || herr.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site upgrade: %v, want HTTP 403", err)
		}
		c, err := sigclient.Connect(ctx, ts.WSURL, sigclient.WithHeader(http.Header{"Origin": {ts.URL}}))
		if err != nil {
			t.Fatalf("same-origin upgrade: %v", err)
		}
		c.Close()
	})
}

// TestProtocolMeshOnlyRoomFull: a mesh-only room holds mesh_max; the next
// joiner gets room-full and nobody inside is disturbed.
func TestProtocolMeshOnlyRoomFull(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 3; c.Policy = "mesh-only" })
	var inside []*sigclient.Client
	for _, name := range []string{"A", "B", "C"} {
		c, err := sigclient.Dial(ctx, ts.WSURL, "full", name)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		inside = append(inside, c)
	}
	if p := inside[0].Welcome().Policy; p != "mesh-only" {
		t.Errorf("policy %q, want mesh-only", p)
	}
	d, err := sigclient.Connect(ctx, ts.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Join(ctx, "full", "D")
	var perr *sigclient.ProtocolError
	if !errors.As(err, &perr) || perr.Code != "room-full" || !strings.Contains(perr.Message, "3") {
		t.Fatalf("fourth join: %v, want room-full naming the limit", err)
	}
	// The connection stays open: another room takes D.
	if _, err := d.Join(ctx, "other", "D"); err != nil {
		t.Errorf("join elsewhere after room-full: %v", err)
	}
	for _, c := range inside {
		if c.Err() != nil {
			t.Errorf("%s disturbed: %v", c.Welcome().Name, c.Err())
		}
	}
}
