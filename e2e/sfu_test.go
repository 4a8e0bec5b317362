package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// These tests hold pion participants (internal/client/pionpeer, which follows the
// room's mode like the browser client) against the real server and its SFU:
// docs/protocol.md "Modes and the switch" and docs/sfu.md.

// sfuPacketsPerTrack is how many packets of a track must arrive over a path
// before it counts as delivering: several, so a stray packet is not enough;
// half a second of 10 fps video.
const sfuPacketsPerTrack = 5

// Media of the participants in these tests: 10 fps video and 60 ms Opus
// packets (17 a second, not 50) keep eight participants — 112 forwarded
// tracks, plus a 30-link mesh before the switch — within reach of the race
// detector on a loaded 2-core machine. The tests check paths and arrival,
// not quality.
const (
	sfuFrameRate       = 10
	sfuAudioPacketTime = 60 * time.Millisecond
)

// sfuCall is one room of pion participants on a real test server with an
// SFU.
type sfuCall struct {
	t     *testing.T
	ctx   context.Context
	ts    *testserver.Server
	room  string
	log   *slog.Logger
	peers []*pionpeer.Peer
}

// startSFUCall starts a server configured by mutate, with leak checks that
// run after the participants are closed and the server is down.
func startSFUCall(t *testing.T, timeout time.Duration, mutate func(*config.Config)) *sfuCall {
	t.Helper()
	t.Cleanup(test.CheckRoutines(t)) // registered first: runs last
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	ts := testserver.Start(t, mutate)
	logs := &testlog.Buffer{}
	c := &sfuCall{
		t:    t,
		ctx:  ctx,
		ts:   ts,
		room: "sfu-" + t.Name(),
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

// join adds a participant named name (cfg may adjust its Config) and waits
// for its welcome.
func (c *sfuCall) join(name string, cfg func(*pionpeer.Config)) *pionpeer.Peer {
	c.t.Helper()
	return c.joinRoom(c.room, name, cfg)
}

// joinRoom is join for another room of the same server.
func (c *sfuCall) joinRoom(room, name string, cfg func(*pionpeer.Config)) *pionpeer.Peer {
	c.t.Helper()
	pc := pionpeer.Config{
		URL:             c.ts.WSURL,
		Room:            room,
		Name:            name,
		VideoBitrate:    meshVideoBitrate,
		FrameRate:       sfuFrameRate,
		AudioPacketTime: sfuAudioPacketTime,
		Logger:          c.log.With("who", name),
	}
	if cfg != nil {
		cfg(&pc)
	}
	p, err := pionpeer.Join(c.ctx, pc)
	if err != nil {
		c.t.Fatalf("join %s: %v", name, err)
	}
	c.peers = append(c.peers, p)
	return p
}

// viaKey names one directed pair and kind in a count snapshot.
func viaKey(rx, tx *pionpeer.Peer, k pionpeer.Kind) string {
	return rx.ID() + ">" + tx.ID() + ":" + k.String()
}

// snapshotVia records what every participant received from every other over
// path.
func snapshotVia(peers []*pionpeer.Peer, path pionpeer.Path) map[string]uint64 {
	out := map[string]uint64{}
	for _, rx := range peers {
		for _, tx := range peers {
			if rx != tx {
				for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
					out[viaKey(rx, tx, k)] = rx.ReceivedVia(tx.ID(), k, path)
				}
			}
		}
	}
	return out
}

// missingVia names the first directed pair and kind that has not received
// sfuPacketsPerTrack packets over path since base (nil: since the start),
// or returns "".
func missingVia(peers []*pionpeer.Peer, path pionpeer.Path, base map[string]uint64) string {
	for _, rx := range peers {
		for _, tx := range peers {
			if rx == tx {
				continue
			}
			for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
				was := base[viaKey(rx, tx, k)]
				if n := rx.ReceivedVia(tx.ID(), k, path); n < was+sfuPacketsPerTrack {
					return fmt.Sprintf("%s got %d %s packets from %s over %s (had %d), want ≥ %d more",
						rx.Welcome().Name, n-was, k, tx.Welcome().Name, path, was, sfuPacketsPerTrack)
				}
			}
		}
	}
	return ""
}

// wrongPath names the first participant that does not take every other's
// media from path, or still has a mesh link where it should not.
func wrongPath(peers []*pionpeer.Peer, path pionpeer.Path) string {
	for _, p := range peers {
		rs := p.Remotes()
		if len(rs) != len(peers)-1 {
			return fmt.Sprintf("%s lists %d remotes, want %d", p.Welcome().Name, len(rs), len(peers)-1)
		}
		for _, r := range rs {
			if r.Path != path {
				return fmt.Sprintf("%s takes %s's media from %s, want %s", p.Welcome().Name, r.Name, r.Path, path)
			}
			if r.Mesh != (path == pionpeer.PathMesh) {
				return fmt.Sprintf("%s: mesh link to %s open: %v, in %s", p.Welcome().Name, r.Name, r.Mesh, path)
			}
		}
	}
	return ""
}

// wrongMode names the first participant whose last announced mode is not
// mode.
func wrongMode(peers []*pionpeer.Peer, mode string) string {
	for _, p := range peers {
		if m := p.Mode(); m != mode {
			return fmt.Sprintf("%s is in %q, want %q", p.Welcome().Name, m, mode)
		}
	}
	return ""
}

// checkIntact asserts that nobody was refused anything and every payload
// crossed every hop unmodified, over every path.
func checkIntact(t *testing.T, peers []*pionpeer.Peer) {
	t.Helper()
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
	}
}

// sfuQuiet polls until the SFU has forwarded no packet for quiet.
func sfuQuiet(t *testing.T, ts *testserver.Server, d, quiet time.Duration) {
	t.Helper()
	var last uint64
	var since time.Time
	meshPoll(t, d, func() string {
		f := ts.Srv.SFU().Stats().ForwardedPackets
		if since.IsZero() || f != last {
			last, since = f, time.Now()
		}
		if q := time.Since(since); q < quiet {
			return fmt.Sprintf("the SFU still forwards (%d packets so far, quiet for %v)", f, q.Round(time.Millisecond))
		}
		return ""
	})
}

// TestSFUSwitchAuto: eight participants join an auto room with
// mesh_max 6. The 7th join switches the room to SFU; everyone ends up
// receiving everyone's audio and video through the SFU with their mesh links
// closed. Three leave; after the hysteresis the room returns to mesh, the
// five rebuild a full mesh, and the SFU stops forwarding.
func TestSFUSwitchAuto(t *testing.T) {
	// mesh_down 5 (not the default 4) so that three leaving out of eight
	// is enough to go back; MeshDownDelay short so the test need not
	// wait 10 s.
	c := startSFUCall(t, 180*time.Second, func(cfg *config.Config) {
		cfg.MeshMax = 6
		cfg.MeshDown = 5
		cfg.MeshDownDelay = time.Second
	})
	start := time.Now()
	for i := range 6 {
		// Half of them connect to the SFU while still in the mesh (the
		// pre-flight), half only when the room switches: both ways
		// must end up publishing there.
		preflight := func(p *pionpeer.Config) { p.SFUPreflight = i%2 == 0 }
		if p := c.join(fmt.Sprintf("P%d", i), preflight); p.Welcome().Mode != "mesh" {
			t.Fatalf("P%d's welcome says %q, want mesh", i, p.Welcome().Mode)
		}
	}
	meshPoll(t, 45*time.Second, func() string { return missingVia(c.peers, pionpeer.PathMesh, nil) })
	t.Logf("6-peer mesh flowing %v after the first join", time.Since(start).Round(time.Millisecond))
	if f := c.ts.Srv.SFU().Stats().ForwardedPackets; f != 0 {
		t.Errorf("the SFU forwarded %d packets while the room was a mesh (pre-flight connections must not publish)", f)
	}

	// The 7th join switches the room; the 8th joins an SFU room.
	switchAt := time.Now()
	if p := c.join("P6", nil); p.Welcome().Mode != "sfu" {
		t.Fatalf("the 7th participant's welcome says %q, want sfu", p.Welcome().Mode)
	}
	meshPoll(t, 10*time.Second, func() string { return wrongMode(c.peers, "sfu") })
	if p := c.join("P7", nil); p.Welcome().Mode != "sfu" {
		t.Fatalf("the 8th participant's welcome says %q, want sfu", p.Welcome().Mode)
	}
	// Generous: on a loaded machine pion under the race detector takes
	// seconds per renegotiation, and each SFU offer adds the tracks that
	// started meanwhile.
	meshPoll(t, 60*time.Second, func() string { return missingVia(c.peers, pionpeer.PathSFU, nil) })
	t.Logf("8 × 7 × 2 tracks over the SFU %v after the 7th join", time.Since(switchAt).Round(time.Millisecond))
	meshPoll(t, 20*time.Second, func() string { return wrongPath(c.peers, pionpeer.PathSFU) })
	if m := wrongMode(c.peers, "sfu"); m != "" {
		t.Error(m)
	}
	for _, p := range c.peers {
		if s := p.SFU(); !s.Open || !s.Publishing || s.State != webrtc.PeerConnectionStateConnected {
			t.Errorf("%s: SFU connection %+v", p.Welcome().Name, s)
		}
	}
	if st := c.ts.Srv.SFU().Stats(); st.Sessions != 8 || st.Tracks != 16 || st.SRTPOther != 0 {
		t.Errorf("SFU stats in SFU mode: %+v, want 8 sessions, 16 tracks, GCM only", st)
	}
	checkIntact(t, c.peers)

	// Three leave (one of the first, one from the middle, the last);
	// five ≤ mesh_down stay.
	var stay, gone []*pionpeer.Peer
	for i, p := range c.peers {
		if i == 0 || i == 4 || i == 7 {
			gone = append(gone, p)
		} else {
			stay = append(stay, p)
		}
	}
	for _, p := range gone {
		if err := p.Leave(c.ctx); err != nil {
			t.Fatalf("%s's leave: %v", p.Welcome().Name, err)
		}
	}
	leftAt := time.Now()
	meshPoll(t, 15*time.Second, func() string { return wrongMode(stay, "mesh") })
	t.Logf("back in mesh %v after the third leave (mesh_down_delay %v)", time.Since(leftAt).Round(time.Millisecond), c.ts.Config.MeshDownDelay)

	meshPoll(t, 45*time.Second, func() string { return wrongPath(stay, pionpeer.PathMesh) })
	meshPoll(t, 10*time.Second, func() string {
		for _, p := range stay {
			if p.SFU().Publishing {
				return p.Welcome().Name + " still publishes on the SFU"
			}
		}
		return ""
	})
	t.Logf("all 5 × 4 pairs back on mesh links %v after the third leave", time.Since(leftAt).Round(time.Millisecond))
	sfuQuiet(t, c.ts, 10*time.Second, time.Second)

	// With the SFU quiet, media still flows between every pair.
	base := snapshotVia(stay, pionpeer.PathMesh)
	sfuBase := snapshotVia(stay, pionpeer.PathSFU)
	meshPoll(t, 10*time.Second, func() string { return missingVia(stay, pionpeer.PathMesh, base) })
	for k, n := range snapshotVia(stay, pionpeer.PathSFU) {
		if n != sfuBase[k] {
			t.Errorf("%s: %d packets over the SFU after it went quiet", k, n-sfuBase[k])
		}
	}
	checkIntact(t, stay)
	for _, p := range stay {
		for _, r := range p.Remotes() {
			if r.State != webrtc.PeerConnectionStateConnected || r.Media.Camera == "" {
				t.Errorf("%s: remote %s: %+v", p.Welcome().Name, r.Name, r)
			}
		}
	}
}

// TestSFUMeshOnlyRefuses7th: a mesh-only room holds mesh_max (6); the 7th
// joiner gets room-full with the documented text, and nobody inside hears
// of it.
func TestSFUMeshOnlyRefuses7th(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	ts := testserver.Start(t, func(c *config.Config) { c.MeshMax = 6; c.Policy = "mesh-only" })
	var inside []*sigclient.Client
	for i := range 6 {
		c, err := sigclient.Dial(ctx, ts.WSURL, "capped", fmt.Sprint("P", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if w := c.Welcome(); w.Mode != "mesh" || w.Policy != "mesh-only" {
			t.Fatalf("P%d's welcome: mode %q policy %q, want mesh, mesh-only", i, w.Mode, w.Policy)
		}
		inside = append(inside, c)
	}
	// Drain the peer-joined messages of the six.
	for i, c := range inside {
		for range 5 - i {
			if ev := protoNext(t, c); ev.Type != sigclient.TypePeerJoined {
				t.Fatalf("P%d got %s, want peer-joined", i, ev.Raw)
			}
		}
	}

	seventh, err := sigclient.Connect(ctx, ts.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seventh.Close() })
	_, err = seventh.Join(ctx, "capped", "P6")
	var perr *sigclient.ProtocolError
	const want = "this room is limited to 6 participants (mesh-only mode)"
	if !errors.As(err, &perr) || perr.Code != "room-full" || perr.Message != want || perr.Ref != "join" {
		t.Fatalf("7th join: %v, want room-full %q (ref join)", err, want)
	}
	if seventh.Err() != nil {
		t.Errorf("refused joiner disconnected: %v", seventh.Err())
	}
	// Nobody inside is disturbed: no message at all reaches them (a
	// quiet period is the only way to observe an absence).
	for i, c := range inside {
		select {
		case ev := <-c.Events():
			t.Errorf("P%d got %s after the refused join", i, ev.Raw)
		case <-time.After(100 * time.Millisecond):
		}
		if c.Err() != nil {
			t.Errorf("P%d disconnected: %v", i, c.Err())
		}
	}
}

// TestSFUPLIGetsKeyframe: in an SFU room, a subscriber's PLI for a
// publisher's video reaches the publisher (through the SFU), which answers
// with a key frame that reaches the subscriber.
func TestSFUPLIGetsKeyframe(t *testing.T) {
	c := startSFUCall(t, 60*time.Second, func(cfg *config.Config) { cfg.Policy = "sfu-only" })
	// Periodic key frames an hour apart: every key frame in this test
	// is one somebody asked for.
	pub := c.join("Pub", func(p *pionpeer.Config) { p.KeyFrameInterval = time.Hour })
	sub := c.join("Sub", func(p *pionpeer.Config) { p.NoVideo, p.NoAudio = true, true })
	if pub.Welcome().Mode != "sfu" || sub.Welcome().Mode != "sfu" {
		t.Fatalf("sfu-only room: welcomes say %q and %q", pub.Welcome().Mode, sub.Welcome().Mode)
	}
	// The SFU asks for a key frame by itself when the subscriber starts
	// receiving (docs/sfu.md "Key frames"); video starts at it.
	meshPoll(t, 20*time.Second, func() string {
		if n := sub.ReceivedVia(pub.ID(), pionpeer.KindVideo, pionpeer.PathSFU); n < 20 {
			return fmt.Sprintf("subscriber got %d video packets over the SFU", n)
		}
		if sub.KeyFramesReceived(pub.ID()) == 0 {
			return "no key frame yet"
		}
		return ""
	})
	if pub.PLIsReceived() == 0 {
		t.Error("the publisher sent a key frame without being asked (PLIs received 0)")
	}

	plis, keys, sfuPLIs := pub.PLIsReceived(), sub.KeyFramesReceived(pub.ID()), c.ts.Srv.SFU().Stats().PLIsSent
	sentAt := time.Now()
	if err := sub.SendPLI(pub.ID()); err != nil {
		t.Fatal(err)
	}
	// docs/sfu.md: throttled to one per 500 ms per track, a request
	// inside the window deferred, not lost.
	meshPoll(t, 5*time.Second, func() string {
		if n := pub.PLIsReceived(); n <= plis {
			return fmt.Sprintf("publisher received %d PLIs, had %d", n, plis)
		}
		if n := sub.KeyFramesReceived(pub.ID()); n <= keys {
			return fmt.Sprintf("subscriber received %d key frames, had %d", n, keys)
		}
		return ""
	})
	t.Logf("PLI → key frame at the subscriber in %v", time.Since(sentAt).Round(time.Millisecond))
	if n := c.ts.Srv.SFU().Stats().PLIsSent; n <= sfuPLIs {
		t.Errorf("SFU PLIsSent %d, had %d", n, sfuPLIs)
	}
	if err := sub.SendPLI("nobody"); !errors.Is(err, pionpeer.ErrNoTrack) {
		t.Errorf("PLI for an unknown participant: %v, want ErrNoTrack", err)
	}
	checkIntact(t, c.peers)
}

// TestSFUSlowSubscriber: one subscriber stops reading RTP altogether; the
// others keep receiving what the publisher sends, and the stalled one
// recovers when it reads again.
func TestSFUSlowSubscriber(t *testing.T) {
	c := startSFUCall(t, 60*time.Second, func(cfg *config.Config) { cfg.Policy = "sfu-only" })
	pub := c.join("Pub", func(p *pionpeer.Config) { p.VideoBitrate = 300_000 })
	subs := []*pionpeer.Peer{
		c.join("A", func(p *pionpeer.Config) { p.NoVideo, p.NoAudio = true, true }),
		c.join("Slow", func(p *pionpeer.Config) { p.NoVideo, p.NoAudio = true, true }),
		c.join("B", func(p *pionpeer.Config) { p.NoVideo, p.NoAudio = true, true }),
	}
	slow := subs[1]
	meshPoll(t, 20*time.Second, func() string {
		for _, s := range subs {
			for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
				if n := s.Received(pub.ID(), k); n < 20 {
					return fmt.Sprintf("%s got %d %s packets", s.Welcome().Name, n, k)
				}
			}
		}
		return ""
	})

	slow.PauseReading()
	st0 := c.ts.Srv.SFU().Stats()
	// Over a window of ≈3 s of media, the healthy subscribers must get
	// what the publisher sent (compared with what it actually sent, not
	// the nominal rate: under -race the publisher's tickers run late).
	// In-flight packets at the end are waited for by the poll.
	sent0 := map[pionpeer.Kind]uint64{}
	got0 := map[string]uint64{}
	for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
		sent0[k] = pub.Sent(k)
		for _, s := range subs {
			got0[s.ID()+k.String()] = s.Received(pub.ID(), k)
		}
	}
	meshPoll(t, 20*time.Second, func() string {
		if n := pub.Sent(pionpeer.KindAudio) - sent0[pionpeer.KindAudio]; n < 50 { // 3 s of 60 ms packets
			return fmt.Sprintf("publisher sent %d audio packets since the stall", n)
		}
		return ""
	})
	sent := map[pionpeer.Kind]uint64{}
	for k, s0 := range sent0 {
		sent[k] = pub.Sent(k) - s0
	}
	meshPoll(t, 5*time.Second, func() string {
		for _, s := range []*pionpeer.Peer{subs[0], subs[2]} {
			for k, n := range sent {
				if got := s.Received(pub.ID(), k) - got0[s.ID()+k.String()]; got < n*95/100 {
					return fmt.Sprintf("next to a stalled subscriber %s received %d of %d %s packets", s.Welcome().Name, got, n, k)
				}
			}
		}
		return ""
	})
	for k := range sent {
		if got := slow.Received(pub.ID(), k) - got0[slow.ID()+k.String()]; got > 1 {
			t.Errorf("the stalled subscriber still counted %d %s packets", got, k)
		}
	}
	st1 := c.ts.Srv.SFU().Stats()
	t.Logf("while one subscriber stalled: publisher sent %d video + %d audio packets; SFU forwarded %d, dropped %d (a stalled UDP receiver does not back-pressure the SFU: pion drops in the receiver's buffers)",
		sent[pionpeer.KindVideo], sent[pionpeer.KindAudio], st1.ForwardedPackets-st0.ForwardedPackets, st1.DroppedPackets-st0.DroppedPackets)
	if st1.ForwardedPackets-st0.ForwardedPackets < 3*(sent[pionpeer.KindVideo]+sent[pionpeer.KindAudio])*9/10 {
		t.Errorf("SFU forwarded %d packets to 3 subscribers of %d sent: it stopped forwarding to someone",
			st1.ForwardedPackets-st0.ForwardedPackets, sent[pionpeer.KindVideo]+sent[pionpeer.KindAudio])
	}

	// Reading again, the stalled subscriber catches up with live media.
	was := slow.Received(pub.ID(), pionpeer.KindVideo)
	slow.ResumeReading()
	meshPoll(t, 10*time.Second, func() string {
		if n := slow.Received(pub.ID(), pionpeer.KindVideo); n < was+50 {
			return fmt.Sprintf("resumed subscriber got %d video packets since", n-was)
		}
		return ""
	})
	checkIntact(t, c.peers)
}
