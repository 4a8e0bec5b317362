package pionpeer_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/client/sigclient/sigtest"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
)

// TestReconnectFresh: the fake server cannot resume, so a participant
// whose signaling drops comes back with a fresh welcome. It must rebuild as
// a newcomer under its new id (close its old links, offer to everyone) and
// have media flowing both ways again. The resumed path is tested against
// the real server (e2e/resume_test.go).
func TestReconnectFresh(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	srv := sigtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log, _ := testlog.New(t, "log")
	var peers []*pionpeer.Peer
	for _, name := range []string{"A", "B"} {
		p, err := pionpeer.Join(ctx, pionpeer.Config{URL: srv.WSURL, Room: "r", Name: name, VideoBitrate: 50_000, Logger: log.With("who", name)})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		peers = append(peers, p)
	}
	a, b := peers[0], peers[1]
	flowing := func(from, to *pionpeer.Peer, base uint64) bool {
		return to.Received(from.ID(), pionpeer.KindVideo) > base+3 && to.Received(from.ID(), pionpeer.KindAudio) > base+3
	}
	waitFor(t, 10*time.Second, "media both ways", func() bool { return flowing(a, b, 0) && flowing(b, a, 0) })

	oldID := a.ID()
	baseFromB := a.Received(b.ID(), pionpeer.KindVideo)
	a.Signaling().Drop()
	waitFor(t, 10*time.Second, "A back", func() bool { return len(a.Reconnections()) == 1 })
	rec := a.Reconnections()[0]
	if rec.Err != nil || rec.Resumed || rec.OldID != oldID || rec.ID == oldID || rec.ID != a.ID() {
		t.Fatalf("reconnection = %+v, want a fresh join under a new id", rec)
	}
	waitFor(t, 10*time.Second, "media both ways after the fresh join", func() bool {
		return flowing(a, b, 0) && flowing(b, a, baseFromB)
	})
	for _, r := range a.Remotes() {
		if r.ID != b.ID() || !r.Mesh {
			t.Errorf("A's remotes after the rejoin: %+v", a.Remotes())
		}
	}
	if d := b.Departures(); len(d) != 1 || d[0].Peer.ID != oldID {
		t.Errorf("B's departures = %+v, want A's old id (the fake server has no grace)", d)
	}
	t.Logf("A back after %v in %d attempt(s)", rec.Back.Sub(rec.Lost).Round(time.Millisecond), rec.Attempts)
	select {
	case <-a.Done():
		t.Fatalf("A ended: %v", a.Err())
	default:
	}
}
