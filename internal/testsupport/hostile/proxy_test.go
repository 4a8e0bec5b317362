package hostile_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/testsupport/hostile"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next returns c's next event of type typ, skipping others.
func next(t *testing.T, ctx context.Context, c *sigclient.Client, typ string) sigclient.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for %s", typ)
			}
			if ev.Type == typ {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %s: %v", typ, ctx.Err())
		}
	}
}

// TestProxy: the proxy forwards HTTP, relays the real protocol, applies its
// scripts (a relabelled name and a flipped e2ee flag for one participant
// only), injects a ghost, and records what the participants sent and to
// whom, as it arrived.
func TestProxy(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	ctx := ctxFor(t)

	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Get(p.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz through the proxy: %v %v", resp, err)
	}
	resp.Body.Close()

	p.ToClient(hostile.For("Bob", hostile.Chain(hostile.Relabel("Alice", "Mallory"), hostile.FlipE2EE)))
	a, err := sigclient.Dial(ctx, p.WSURL(), "hostile", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if e := a.Welcome().E2EE; e == nil || !*e {
		t.Fatalf("Alice's welcome e2ee %v, want true (untouched)", e)
	}
	b, err := sigclient.Dial(ctx, p.WSURL(), "hostile", "Bob")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := b.Welcome()
	if len(w.Peers) != 1 || w.Peers[0].Name != "Mallory" || w.E2EE == nil || *w.E2EE {
		t.Fatalf("Bob's welcome: peers %+v e2ee %v, want Alice relabelled Mallory and e2ee false", w.Peers, w.E2EE)
	}
	if ev := next(t, ctx, a, sigclient.TypePeerJoined); ev.Peer.Name != "Bob" {
		t.Errorf("Alice sees %q join, want Bob (her scripts pass)", ev.Peer.Name)
	}

	ghost := hostile.GhostID()
	if err := p.ConnOf(a.ID()).ToClient(hostile.GhostJoined(ghost, "Ghost")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ctx, a, sigclient.TypePeerJoined); ev.Peer.ID != ghost {
		t.Errorf("injected peer-joined arrived as %+v", ev.Peer)
	}

	if err := a.Key(b.ID(), map[string]string{"t": "test"}); err != nil {
		t.Fatal(err)
	}
	next(t, ctx, b, sigclient.TypeKey)
	keys := p.Records(func(r hostile.Record) bool {
		return r.Dir == hostile.ToServer && r.Type == "key" && r.Peer == a.ID()
	})
	var to string
	if len(keys) != 1 || !keys[0].Message().Get("to", &to) || to != b.ID() || !keys[0].Passed {
		t.Fatalf("recorded keys from Alice: %+v, want one to Bob, passed", keys)
	}
	welcomes := p.Records(func(r hostile.Record) bool { return r.Type == "welcome" && r.Peer == b.ID() })
	if len(welcomes) != 1 || welcomes[0].Passed {
		t.Fatalf("Bob's welcome records %+v, want one, rewritten", welcomes)
	}
	var e2ee bool
	if !welcomes[0].Message().Get("e2ee", &e2ee) || !e2ee {
		t.Error("the record holds the rewritten welcome, want the one the server sent")
	}
}
