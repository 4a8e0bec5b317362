package pionpeer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/client/sigclient/sigtest"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func join(t *testing.T, ctx context.Context, url, room, name string) *pionpeer.Peer {
	t.Helper()
	p, err := pionpeer.Join(ctx, pionpeer.Config{URL: url, Room: room, Name: name, VideoBitrate: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestMeshOfThree(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	srv := sigtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var peers []*pionpeer.Peer
	for i := range 3 {
		peers = append(peers, join(t, ctx, srv.WSURL, "r", fmt.Sprint("p", i)))
	}
	waitFor(t, 10*time.Second, "every track from every peer", func() bool {
		for _, p := range peers {
			for _, q := range peers {
				if p != q && (p.Received(q.ID(), pionpeer.KindVideo) < 5 || p.Received(q.ID(), pionpeer.KindAudio) < 5) {
					return false
				}
			}
		}
		return true
	})
	handshakes := 0
	for _, p := range peers {
		for _, n := range p.SRTPProfiles() {
			handshakes += n
		}
	}
	if handshakes != 3 {
		t.Errorf("saw %d DTLS handshakes as server, want 3 (one per connection)", handshakes)
	}
	for _, p := range peers {
		for _, s := range p.Stats() {
			if s.Stamped != s.Packets {
				t.Errorf("%s from %s: %d of %d packets stamped", s.Kind, s.Peer, s.Stamped, s.Packets)
			}
		}
		for name, n := range p.SRTPProfiles() {
			if name != "SRTP_AEAD_AES_128_GCM" {
				t.Errorf("%s chose %s %d times", p.ID(), name, n)
			}
		}
		if len(p.Refusals()) > 0 {
			t.Errorf("%s was refused: %+v", p.ID(), p.Refusals())
		}
		for _, r := range p.Remotes() {
			if r.Media.Camera == "" || !r.Media.Cam || !r.Media.Mic {
				t.Errorf("%s has no media state from %s: %+v", p.ID(), r.ID, r.Media)
			}
		}
	}

	// One leaves; the others drop its connection.
	gone := peers[1]
	if err := gone.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*pionpeer.Peer{peers[0], peers[2]} {
		waitFor(t, 5*time.Second, "peer-left", func() bool {
			for _, r := range p.Remotes() {
				if r.ID == gone.ID() {
					return false
				}
			}
			d := p.Departures()
			return len(d) == 1 && d[0].Peer.ID == gone.ID() && d[0].Reason == "left"
		})
	}
	for _, p := range peers {
		p.Close()
	}
}

// TestGlare has both sides offer at once, repeatedly: perfect negotiation
// must end every time with media flowing both ways and no failed step.
func TestGlare(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	srv := sigtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log, logs := testlog.New(t, "log")
	collided := 0
	for i := range 5 {
		room := fmt.Sprint("glare", i)
		var peers []*pionpeer.Peer
		for _, name := range []string{"A", "B"} {
			cfg := pionpeer.WithGlare(pionpeer.Config{URL: srv.WSURL, Room: room, Name: name, VideoBitrate: 50_000, Logger: log})
			p, err := pionpeer.Join(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			peers = append(peers, p)
		}
		a, b := peers[0], peers[1]
		waitFor(t, 10*time.Second, "media both ways after glare", func() bool {
			return a.Received(b.ID(), pionpeer.KindVideo) > 3 && b.Received(a.ID(), pionpeer.KindVideo) > 3 &&
				a.Received(b.ID(), pionpeer.KindAudio) > 3 && b.Received(a.ID(), pionpeer.KindAudio) > 3
		})
		a.Close()
		b.Close()
		if strings.Contains(logs.String(), "ignoring colliding offer") {
			collided++
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors were logged (a negotiation step failed, or pion complained)")
	}
	t.Logf("offers collided in %d of 5 rounds", collided)
	if collided == 0 {
		t.Error("offers never collided: the test did not exercise glare")
	}
}
