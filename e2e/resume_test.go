package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// Resume (docs/protocol.md "Reconnecting"): a participant's signaling WebSocket dies mid-call (no close
// frame). It must come back in the same room under the same id, with media
// flowing from and to it, and the others must see it away and back, never
// gone (docs/protocol.md "Reconnecting"). pionpeer reconnects and resumes by
// itself; these tests hold it against the real server, in a mesh and in an
// SFU room.

// resumeDeadline is how long the tests wait for a resume and its media. The
// issue asks for 5 s; the deadline is generous for a loaded machine under
// the race detector, and the measured figure is logged instead.
const resumeDeadline = 20 * time.Second

// resumeLateDelay keeps the second victim of each test away long enough for
// a newcomer to join meanwhile, so that what the newcomer (or the SFU) sends
// it must wait at the server and follow the resumed welcome.
const resumeLateDelay = 1500 * time.Millisecond

// TestResumeMesh: in a mesh of 3, A's signaling drops; it resumes and its
// links never stopped. Then C drops and stays away while D joins: D's offer
// waits at the server, and after C resumes, media flows between C and D.
func TestResumeMesh(t *testing.T) {
	c := startSFUCall(t, 120*time.Second, func(cfg *config.Config) { cfg.MeshMax = 6 })
	a := c.join("A", nil)
	b := c.join("B", nil)
	cc := c.join("C", func(pc *pionpeer.Config) { pc.ReconnectDelay = resumeLateDelay })
	peers := []*pionpeer.Peer{a, b, cc}
	waitAllMedia(t, peers, 30*time.Second)

	checkResume(t, "mesh, A dropped", peers, a, nil)

	d := checkResume(t, "mesh, C dropped while D joins", peers, cc, func() *pionpeer.Peer {
		return c.join("D", nil)
	})
	for _, p := range append(peers, d) {
		if p.Mode() != "mesh" {
			t.Errorf("%s: room is %s, want mesh", p.Welcome().Name, p.Mode())
		}
	}
}

// TestResumeSFU: the same in an SFU room (mesh_max 2, 3 participants): the
// dropped participant's SFU connection stays up, the SFU's signals to it are
// held and delivered after the resume (the renegotiation that brings a
// newcomer's tracks), and media flows through the SFU from and to it.
func TestResumeSFU(t *testing.T) {
	c := startSFUCall(t, 120*time.Second, func(cfg *config.Config) { cfg.MeshMax = 2 })
	a := c.join("A", nil)
	b := c.join("B", nil)
	cc := c.join("C", func(pc *pionpeer.Config) { pc.ReconnectDelay = resumeLateDelay })
	peers := []*pionpeer.Peer{a, b, cc}
	meshPoll(t, 30*time.Second, func() string {
		for _, p := range peers {
			if p.Mode() != "sfu" {
				return p.Welcome().Name + " is not in SFU mode"
			}
		}
		return ""
	})
	waitAllMedia(t, peers, 30*time.Second)

	checkResume(t, "sfu, A dropped", peers, a, nil)
	checkResume(t, "sfu, C dropped while D joins", peers, cc, func() *pionpeer.Peer {
		return c.join("D", nil)
	})
	for _, p := range peers {
		if !p.SFU().Open || p.Mode() != "sfu" {
			t.Errorf("%s: mode %s, SFU %+v", p.Welcome().Name, p.Mode(), p.SFU())
		}
	}
}

// TestResumeServerRestart: the server restarts under a mesh call; nothing
// can resume (tokens live in memory), so every participant joins afresh
// under a new id, rebuilds its connections, and media flows again.
func TestResumeServerRestart(t *testing.T) {
	c := startSFUCall(t, 120*time.Second, nil) // for its log, leak check and cleanup; its server is unused
	rs := startRestartable(t, "127.0.0.1:0")
	c.ts = &testserver.Server{WSURL: "ws://" + rs.addr + "/ws"}
	peers := []*pionpeer.Peer{c.join("A", nil), c.join("B", nil), c.join("C", nil)}
	waitAllMedia(t, peers, 30*time.Second)
	oldIDs := map[*pionpeer.Peer]string{}
	for _, p := range peers {
		oldIDs[p] = p.ID()
	}

	rs.stop()
	time.Sleep(time.Second) // a few failed attempts, with back-off
	start := time.Now()
	startRestartable(t, rs.addr)
	meshPoll(t, resumeDeadline, func() string {
		for _, p := range peers {
			if r := p.Reconnections(); len(r) != 1 || r[0].Back.IsZero() {
				return fmt.Sprintf("%s not back: %+v", p.Welcome().Name, r)
			}
		}
		return ""
	})
	for _, p := range peers {
		r := p.Reconnections()[0]
		if r.Resumed || p.ID() == oldIDs[p] {
			t.Errorf("%s: %+v, want a fresh join under a new id", p.Welcome().Name, r)
		}
	}
	waitAllMedia(t, peers, resumeDeadline)
	t.Logf("every participant back with media %v after the server came back", time.Since(start).Round(time.Millisecond))
}

// waitAllMedia waits until every participant receives both kinds from every
// other.
func waitAllMedia(t *testing.T, peers []*pionpeer.Peer, d time.Duration) {
	t.Helper()
	meshPoll(t, d, func() string {
		for _, rx := range peers {
			for _, tx := range peers {
				for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
					if rx != tx && rx.Received(tx.ID(), k) < meshPacketsPerTrack {
						return fmt.Sprintf("%s has %d %s packets from %s", rx.Welcome().Name, rx.Received(tx.ID(), k), k, tx.Welcome().Name)
					}
				}
			}
		}
		return ""
	})
}

// checkResume drops victim's signaling and checks that it resumes (same id,
// resumed welcome), that fresh media flows from and to it within
// resumeDeadline, and that the others saw peer-away then peer-back and no
// peer-left. join, if set, runs while victim is away and returns a
// newcomer, who must exchange media with victim after the resume; it is
// returned. The times measured from the drop are logged.
func checkResume(t *testing.T, label string, peers []*pionpeer.Peer, victim *pionpeer.Peer, join func() *pionpeer.Peer) *pionpeer.Peer {
	t.Helper()
	id := victim.ID()
	others := slices.DeleteFunc(slices.Clone(peers), func(p *pionpeer.Peer) bool { return p == victim })
	type dir struct{ rx, tx *pionpeer.Peer }
	var dirs []dir
	for _, o := range others {
		dirs = append(dirs, dir{o, victim}, dir{victim, o})
	}
	kinds := []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio}
	base := map[dir][2]uint64{}
	for _, d := range dirs {
		base[d] = [2]uint64{d.rx.Received(d.tx.ID(), kinds[0]), d.rx.Received(d.tx.ID(), kinds[1])}
	}
	nRec := len(victim.Reconnections())

	drop := time.Now()
	victim.Signaling().Drop()
	var newcomer *pionpeer.Peer
	if join != nil {
		meshPoll(t, resumeDeadline, func() string {
			for _, o := range others {
				if !isAway(o, id) {
					return label + ": " + o.Welcome().Name + " does not see the victim away"
				}
			}
			return ""
		})
		newcomer = join()
		stillAway := isAway(others[0], id)
		t.Logf("%s: newcomer's welcome %v after the drop (victim still away: %v)", label, time.Since(drop).Round(time.Millisecond), stillAway)
		for _, w := range newcomer.Welcome().Peers {
			if w.ID == id {
				dirs = append(dirs, dir{newcomer, victim}, dir{victim, newcomer})
			}
		}
		if len(dirs) != 2*len(others)+2 {
			t.Fatalf("%s: the newcomer's welcome does not list the away victim: %+v", label, newcomer.Welcome().Peers)
		}
	}

	var back time.Time
	flowing := map[dir]time.Duration{}
	meshPoll(t, resumeDeadline, func() string {
		if r := victim.Reconnections(); back.IsZero() && len(r) > nRec && !r[nRec].Back.IsZero() {
			back = r[nRec].Back
		}
		missing := ""
		for _, d := range dirs {
			if _, ok := flowing[d]; ok {
				continue
			}
			b := base[d]
			if d.rx.Received(d.tx.ID(), kinds[0]) >= b[0]+meshPacketsPerTrack && d.rx.Received(d.tx.ID(), kinds[1]) >= b[1]+meshPacketsPerTrack {
				flowing[d] = time.Since(drop)
				continue
			}
			missing = fmt.Sprintf("%s: no fresh media %s ← %s", label, d.rx.Welcome().Name, d.tx.Welcome().Name)
		}
		if missing != "" {
			return missing
		}
		if back.IsZero() {
			return label + ": the victim did not reconnect"
		}
		for _, o := range others {
			if isAway(o, id) {
				return label + ": " + o.Welcome().Name + " still sees the victim away"
			}
		}
		return ""
	})

	rec := victim.Reconnections()[nRec]
	if rec.Err != nil || !rec.Resumed || rec.ID != id || victim.ID() != id || !victim.Welcome().Resumed {
		t.Errorf("%s: reconnection %+v (welcome resumed %v), want a resume as %s", label, rec, victim.Welcome().Resumed, id)
	}
	for _, o := range others {
		if d := o.Departures(); slices.ContainsFunc(d, func(d pionpeer.Departure) bool { return d.Peer.ID == id }) {
			t.Errorf("%s: %s saw the victim leave: %+v", label, o.Welcome().Name, d)
		}
		abs := o.Absences()
		i := slices.IndexFunc(abs, func(a pionpeer.Absence) bool { return a.Peer.ID == id && a.Away.After(drop) })
		if i < 0 || abs[i].Back.IsZero() || abs[i].Back.Before(abs[i].Away) {
			t.Errorf("%s: %s's absences %+v, want peer-away then peer-back for %s", label, o.Welcome().Name, abs, id)
		}
	}
	for _, p := range append(slices.Clone(peers), newcomer) {
		if p != nil && len(p.Refusals()) > 0 {
			t.Errorf("%s: %s was refused: %+v", label, p.Welcome().Name, p.Refusals())
		}
	}
	var times []string
	var worst time.Duration
	for _, d := range dirs {
		times = append(times, fmt.Sprintf("%s←%s %v", d.rx.Welcome().Name, d.tx.Welcome().Name, flowing[d].Round(time.Millisecond)))
		worst = max(worst, flowing[d])
	}
	t.Logf("%s: resumed %v after the drop (%d attempt(s), %d queued signals sent); fresh media both ways by %v (%s)",
		label, back.Sub(drop).Round(time.Millisecond), rec.Attempts, rec.Flushed, worst.Round(time.Millisecond), strings.Join(times, ", "))
	return newcomer
}

// isAway reports whether p sees remote id as away.
func isAway(p *pionpeer.Peer, id string) bool {
	for _, r := range p.Remotes() {
		if r.ID == id {
			return r.Away
		}
	}
	return false
}
