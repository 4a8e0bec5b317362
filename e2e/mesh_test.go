// Package e2e holds integration tests that run the real Parley server on
// 127.0.0.1 and talk to it the way real clients do.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// meshVideoBitrate keeps a 6-person mesh (30 video streams) light enough for
// the race detector on 2 cores; the tests check arrival, not quality.
const meshVideoBitrate = 100_000

// meshPacketsPerTrack is how many packets of each track must arrive before
// a pair counts as connected: several, so one stray packet is not enough,
// yet at 15 fps video well under a second of media.
const meshPacketsPerTrack = 5

// meshCall is one room of pion participants on a real test server.
type meshCall struct {
	t     *testing.T
	ctx   context.Context
	ts    *testserver.Server
	room  string
	log   *slog.Logger
	peers []*pionpeer.Peer
}

// startMeshCall starts a server with mesh_max 6 and leak checks that run
// after the server has stopped.
func startMeshCall(t *testing.T) *meshCall {
	t.Helper()
	// Registered first so it runs last: after the participants are
	// closed and the server is down, nothing of either may remain.
	t.Cleanup(test.CheckRoutines(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 6 })
	logs := &testlog.Buffer{}
	c := &meshCall{
		t:    t,
		ctx:  ctx,
		ts:   ts,
		room: "mesh-" + t.Name(),
		log:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	t.Cleanup(func() {
		for _, p := range c.peers {
			p.Close()
		}
		if t.Failed() {
			t.Logf("participant logs:\n%s", logs.String())
		}
	})
	return c
}

// join adds a participant named name and waits for its welcome.
func (c *meshCall) join(name string) *pionpeer.Peer {
	c.t.Helper()
	p, err := pionpeer.Join(c.ctx, pionpeer.Config{
		URL:          c.ts.WSURL,
		Room:         c.room,
		Name:         name,
		VideoBitrate: meshVideoBitrate,
		Logger:       c.log.With("who", name),
	})
	if err != nil {
		c.t.Fatalf("join %s: %v", name, err)
	}
	c.peers = append(c.peers, p)
	return p
}

// meshPoll checks cond every 20 ms until it returns "" (done) or the
// deadline passes, then fails with cond's last complaint.
func meshPoll(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// missingMedia names the first directed pair and kind that has not yet
// delivered meshPacketsPerTrack packets, or returns "".
func missingMedia(peers []*pionpeer.Peer) string {
	for _, rx := range peers {
		for _, tx := range peers {
			if rx == tx {
				continue
			}
			for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
				if n := rx.Received(tx.ID(), k); n < meshPacketsPerTrack {
					return fmt.Sprintf("%s got %d %s packets from %s, want ≥ %d",
						rx.Welcome().Name, n, k, tx.Welcome().Name, meshPacketsPerTrack)
				}
			}
		}
	}
	return ""
}

// checkHealthy asserts what every healthy mesh should show: no refusals
// from the server, payloads intact end to end, GCM SRTP, and every
// connection established. When the mesh has always been exactly peers,
// complete also checks that each pair had exactly one DTLS handshake.
func checkHealthy(t *testing.T, peers []*pionpeer.Peer, complete bool) {
	t.Helper()
	handshakes := 0
	for _, p := range peers {
		name := p.Welcome().Name
		if r := p.Refusals(); len(r) > 0 {
			t.Errorf("%s: server refused: %+v", name, r)
		}
		for _, s := range p.Stats() {
			if s.Stamped != s.Packets {
				t.Errorf("%s: %s from %s: only %d of %d payloads intact", name, s.Kind, s.Peer, s.Stamped, s.Packets)
			}
		}
		for profile, n := range p.SRTPProfiles() {
			handshakes += n
			if profile != "SRTP_AEAD_AES_128_GCM" {
				t.Errorf("%s: %d connections negotiated %s, want SRTP_AEAD_AES_128_GCM", name, n, profile)
			}
		}
		for _, r := range p.Remotes() {
			if r.State != webrtc.PeerConnectionStateConnected {
				t.Errorf("%s: connection to %s is %s", name, r.ID, r.State)
			}
			if r.Media.Camera == "" {
				t.Errorf("%s: no {\"media\"} signal from %s", name, r.ID)
			}
		}
	}
	if want := len(peers) * (len(peers) - 1) / 2; complete && handshakes != want {
		t.Errorf("%d DTLS handshakes seen, want %d (one per pair)", handshakes, want)
	}
}

// TestMeshTwoPeers: two pion participants join one room through the real
// protocol, negotiate a mesh connection and each receives the other's VP8
// and Opus.
func TestMeshTwoPeers(t *testing.T) {
	c := startMeshCall(t)
	a := c.join("Ada")
	if w := a.Welcome(); w.Mode != "mesh" || len(w.Peers) != 0 || w.Limits.MeshMax != 6 {
		t.Fatalf("first welcome: %+v", w)
	}
	b := c.join("Grace")
	if w := b.Welcome(); len(w.Peers) != 1 || w.Peers[0].ID != a.ID() || w.Peers[0].Name != "Ada" {
		t.Fatalf("second welcome's peers: %+v", w.Peers)
	}
	start := time.Now()
	meshPoll(t, 20*time.Second, func() string { return missingMedia(c.peers) })
	t.Logf("both tracks both ways %v after the second join", time.Since(start).Round(time.Millisecond))
	checkHealthy(t, c.peers, true)
}

// TestMeshSixPeers: six participants (mesh_max) in one room; every one
// receives both tracks from each of the other five: 30 directed pairs × 2
// kinds.
func TestMeshSixPeers(t *testing.T) {
	c := startMeshCall(t)
	start := time.Now()
	for i := range 6 {
		p := c.join(fmt.Sprintf("P%d", i))
		if got := len(p.Welcome().Peers); got != i {
			t.Fatalf("P%d's welcome lists %d peers, want %d", i, got, i)
		}
		if m := p.Welcome().Mode; m != "mesh" {
			t.Fatalf("P%d's welcome says mode %q, want mesh", i, m)
		}
	}
	meshPoll(t, 30*time.Second, func() string { return missingMedia(c.peers) })
	t.Logf("30 pairs × 2 kinds flowing %v after the first join", time.Since(start).Round(time.Millisecond))
	checkHealthy(t, c.peers, true)
	for _, p := range c.peers {
		if m := p.Mode(); m != "mesh" {
			t.Errorf("%s: room switched to %q at 6 participants (mesh_max 6)", p.Welcome().Name, m)
		}
	}
}

// TestMeshPeerLeaves: when one participant sends leave and another just
// closes its WebSocket, the others get peer-left for each and close that
// connection, and media between the rest keeps flowing.
func TestMeshPeerLeaves(t *testing.T) {
	c := startMeshCall(t)
	for _, name := range []string{"A", "B", "C", "D"} {
		c.join(name)
	}
	meshPoll(t, 20*time.Second, func() string { return missingMedia(c.peers) })
	a, b, cc, d := c.peers[0], c.peers[1], c.peers[2], c.peers[3]

	// B leaves politely.
	if err := b.Leave(c.ctx); err != nil {
		t.Fatalf("B's leave: %v", err)
	}
	// D vanishes without a word: the WebSocket just closes.
	d.Close()

	stayed := []*pionpeer.Peer{a, cc}
	gone := map[string]string{b.ID(): "B", d.ID(): "D"}
	meshPoll(t, 10*time.Second, func() string {
		for _, p := range stayed {
			for _, r := range p.Remotes() {
				if name, ok := gone[r.ID]; ok {
					return fmt.Sprintf("%s still has a connection to %s", p.Welcome().Name, name)
				}
			}
			if n := len(p.Departures()); n != 2 {
				return fmt.Sprintf("%s got %d peer-left, want 2", p.Welcome().Name, n)
			}
		}
		return ""
	})
	for _, p := range stayed {
		for _, dep := range p.Departures() {
			if _, ok := gone[dep.Peer.ID]; !ok {
				t.Errorf("%s: peer-left for %+v, who did not leave", p.Welcome().Name, dep.Peer)
			}
			// protocol.md: leave gives reason "left", and "closing
			// the WebSocket has the same effect".
			if dep.Reason != "left" {
				t.Errorf("%s: peer-left for %s has reason %q, want \"left\"", p.Welcome().Name, gone[dep.Peer.ID], dep.Reason)
			}
		}
		if ids := remoteIDs(p); !slices.Equal(ids, otherIDs(p, stayed)) {
			t.Errorf("%s: connections to %v, want only %v", p.Welcome().Name, ids, otherIDs(p, stayed))
		}
	}

	// The departed send nothing more; the rest still talk.
	before := map[string]uint64{}
	for _, p := range stayed {
		for _, s := range p.Stats() {
			before[p.ID()+s.Peer+s.Kind.String()] = s.Packets
		}
	}
	meshPoll(t, 10*time.Second, func() string {
		for _, p := range stayed {
			for _, q := range stayed {
				if p != q && p.Received(q.ID(), pionpeer.KindVideo) < before[p.ID()+q.ID()+"video"]+meshPacketsPerTrack {
					return fmt.Sprintf("%s stopped receiving from %s", p.Welcome().Name, q.Welcome().Name)
				}
			}
		}
		return ""
	})
	for _, p := range stayed {
		for id := range gone {
			for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
				if n, was := p.Received(id, k), before[p.ID()+id+k.String()]; n != was {
					t.Errorf("%s still received %s from %s after it left (%d → %d)", p.Welcome().Name, k, gone[id], was, n)
				}
			}
		}
	}
	checkHealthy(t, stayed, false)
}

func remoteIDs(p *pionpeer.Peer) []string {
	var ids []string
	for _, r := range p.Remotes() {
		ids = append(ids, r.ID)
	}
	return ids
}

func otherIDs(p *pionpeer.Peer, peers []*pionpeer.Peer) []string {
	var ids []string
	for _, q := range peers {
		if q != p {
			ids = append(ids, q.ID())
		}
	}
	slices.Sort(ids)
	return ids
}
