package load

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// Timings of a run.
const (
	// settle is how long after the last join the steady-state window
	// starts: long enough for the last DTLS handshakes and the key frames
	// they ask for, so CPU per forwarded packet is not inflated by set-up.
	settle = 3 * time.Second
	// maxSettle bounds the wait for every remote track's first packet
	// before the steady window starts: on a loaded machine the last
	// key frames can take seconds; tracks still missing then are reported.
	maxSettle = 20 * time.Second
	// joinGrace bounds the whole run beyond ramp + duration, so the tool
	// stops by itself even if the server stops answering.
	joinGrace = time.Minute
	// closeTimeout bounds the leaving of every participant at the end.
	closeTimeout = 20 * time.Second
	// progressEvery is the live progress line's period.
	progressEvery = time.Second
)

// runner holds one run's state. Its fields are owned by Run's goroutine,
// except what participant documents.
type runner struct {
	opts   Options
	ws     string
	base   string
	stderr io.Writer
	parts  []*participant
	server usageSource
	noSrv  string // why the server's usage is unknown
	self   usageSource
	client *http.Client
}

// sample is the usage of server and generator at one instant, and what the
// participants had received by then.
type sample struct {
	at              time.Time
	server, self    usage
	serverOK        bool
	busy, total     uint64 // /proc/stat ticks
	busyOK          bool
	received, viaSF uint64 // packets received by all participants; over the SFU path
}

// Run executes one load run and returns its report. ctx cancels it early
// (the report then covers what happened so far); progress goes to stderr
// unless opts.Quiet.
func Run(ctx context.Context, opts Options, stderr io.Writer) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	ws, _ := wsURL(firstURL(opts.URL))
	r := &runner{
		opts:   opts,
		ws:     ws,
		base:   httpBase(firstURL(opts.URL)),
		stderr: stderr,
		self:   selfSource{},
		client: &http.Client{Timeout: 5 * time.Second},
	}
	if r.opts.RoomPrefix == "" {
		r.opts.RoomPrefix = "load-" + strings.ToLower(rand.Text()[:6])
	}
	r.server, r.noSrv = findServer(ctx, opts)

	n := opts.Rooms * opts.Participants
	rampTime := time.Duration(float64(n) / opts.Ramp * float64(time.Second))
	ctx, cancel := context.WithTimeout(ctx, rampTime+opts.Duration+settle+joinGrace)
	defer cancel()

	subView, _ := parseView(opts.View) // checked by check
	pubView, _ := parseView(opts.PublisherView)
	for i := range n {
		room, idx := i%opts.Rooms, i/opts.Rooms
		p := &participant{
			room:          room,
			roomName:      fmt.Sprintf("%s-%d", r.opts.RoomPrefix, room+1),
			index:         idx,
			name:          fmt.Sprintf("load-%d-%d", room+1, idx+1),
			publisher:     idx < opts.Publishers,
			view:          subView,
			noViewReports: opts.NoViewReports, // receive-only participants only: see below
			downlink:      opts.Downlink,
			joined:        make(chan struct{}),
			streams:       map[streamKey]*stream{},
		}
		if p.publisher {
			// Publishers stand in for the rest of the room: their
			// views are always reported, so --publisher-view hidden
			// keeps them from receiving video in a "before" run too.
			p.view, p.downlink, p.noViewReports = pubView, 0, false
		}
		r.parts = append(r.parts, p)
	}

	start := r.sample(ctx)
	peak := start
	var prev = start
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				s := r.sample(ctx)
				r.noteModes()
				if s.server.RSS > peak.server.RSS {
					peak = s
				}
				if !opts.Quiet {
					r.progress(start, prev, s)
				}
				prev = s
			}
		}
	}()

	stopViews := make(chan struct{})
	viewsDone := make(chan struct{})
	go func() {
		defer close(viewsDone)
		r.viewLoop(stopViews)
	}()

	// Joins, paced by the ramp, each on its own goroutine so a slow one
	// does not hold up the schedule.
	var joins sync.WaitGroup
	interval := time.Duration(float64(time.Second) / opts.Ramp)
	tick := time.NewTicker(interval)
schedule:
	for i, p := range r.parts {
		if i > 0 {
			select {
			case <-ctx.Done():
				for _, q := range r.parts[i:] {
					q.joinErr = fmt.Errorf("not started: %w", context.Cause(ctx))
					close(q.joined)
				}
				break schedule
			case <-tick.C:
			}
		}
		joins.Go(func() { r.join(ctx, p) })
	}
	tick.Stop()
	joins.Wait()

	// The steady-state window: from settle after the last join — longer
	// while some remote track has not delivered yet, up to maxSettle — to
	// the end.
	var steady0, steady1 sample
	settled := time.After(settle)
	deadline := time.After(maxSettle)
wait:
	for {
		select {
		case <-settled:
			settled = nil
		case <-deadline:
			break wait
		case <-ctx.Done():
			break wait
		case <-time.After(200 * time.Millisecond):
		}
		if settled == nil && r.missing() == 0 {
			break
		}
	}
	steady0 = r.sample(ctx)
	r.markSteady(0)
	select {
	case <-time.After(opts.Duration):
	case <-ctx.Done():
	}
	steady1 = r.sample(ctx)
	r.markSteady(1)
	close(stopProgress)
	<-progressDone
	close(stopViews)
	<-viewsDone
	if !opts.Quiet {
		fmt.Fprintln(stderr)
	}
	r.noteModes()
	rep := r.report(start, steady0, steady1, peak)

	// Leave, in parallel and bounded.
	closed := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, p := range r.parts {
			if p.ok() {
				wg.Go(func() { _ = p.peer.Close() })
			}
		}
		wg.Wait()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(closeTimeout):
		rep.Notes = append(rep.Notes, fmt.Sprintf("some participants had not closed after %v", closeTimeout))
	}
	return rep, nil
}

// join connects one participant and, for the first of a room, sets the
// room's policy.
func (r *runner) join(ctx context.Context, p *participant) {
	defer close(p.joined)
	cfg := pionpeer.Config{
		URL:             r.wsFor(p),
		Room:            p.roomName,
		Name:            p.name,
		NoVideo:         !p.publisher || r.opts.AudioOnly,
		NoAudio:         !p.publisher,
		VideoBitrate:    r.opts.VideoBitrate,
		FrameRate:       r.opts.FrameRate,
		Simulcast:       r.opts.Simulcast,
		NoTemporal:      r.opts.NoTemporal,
		DownlinkBitrate: p.downlink,
		SFUPreflight:    true, // as the browser client does
		OnPacket:        p.onPacket,
	}
	p.openAt = time.Now()
	peer, err := pionpeer.Join(ctx, cfg)
	if err != nil {
		p.joinErr = err
		return
	}
	p.welcomeAt = time.Now()
	p.peer = peer
	p.lastMode = peer.Mode()
	if p.index == 0 && r.opts.Policy != "" {
		if err := r.setPolicy(ctx, p.roomName); err != nil {
			p.joinErr = fmt.Errorf("joined, but setting the policy failed: %w", err)
		}
	}
}

// markSteady records what every participant has received at the start
// (i = 0) or the end (i = 1) of the steady window.
func (r *runner) markSteady(i int) {
	for _, p := range r.active() {
		p.steady[i] = p.mark()
	}
}

// setPolicy asks the admin API for the run's room policy.
func (r *runner) setPolicy(ctx context.Context, room string) error {
	body, _ := json.Marshal(map[string]string{"policy": r.opts.Policy})
	u := r.base + "/api/admin/rooms/" + url.PathEscape(room) + "/policy"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.opts.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("policy: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// sample reads usage and counters now.
func (r *runner) sample(ctx context.Context) sample {
	s := sample{at: time.Now()}
	if r.server != nil {
		if u, err := r.server.read(ctx); err == nil {
			s.server, s.serverOK = u, true
		}
	}
	s.self, _ = r.self.read(ctx)
	s.busy, s.total, s.busyOK = machineBusy()
	for _, p := range r.active() {
		for _, t := range p.peer.Stats() {
			s.received += t.Packets
			s.viaSF += p.peer.ReceivedVia(t.Peer, t.Kind, pionpeer.PathSFU)
		}
	}
	return s
}

// active returns the participants that have joined and are still up.
func (r *runner) active() []*participant {
	var out []*participant
	for _, p := range r.parts {
		select {
		case <-p.joined:
			if p.ok() {
				out = append(out, p)
			}
		default:
		}
	}
	return out
}

// missing counts the remote tracks, of publishers still in the room, that
// have not delivered a packet to a participant yet (video off its screen
// left out: the SFU pauses it).
func (r *runner) missing() int {
	kinds := []pionpeer.Kind{pionpeer.KindAudio, pionpeer.KindVideo}
	if r.opts.AudioOnly {
		kinds = kinds[:1]
	}
	n := 0
	for _, p := range r.parts {
		if !p.ok() {
			continue
		}
		for _, q := range r.parts {
			if q == p || !q.ok() || !q.publisher || q.room != p.room {
				continue
			}
			for _, kind := range kinds {
				if kind == pionpeer.KindVideo && !p.expectsVideo(q.peer.ID()) {
					continue
				}
				p.mu.Lock()
				s := p.streams[streamKey{q.peer.ID(), kind}]
				p.mu.Unlock()
				if s == nil {
					n++
				}
			}
		}
	}
	return n
}

// noteModes counts the mode changes each participant has seen.
func (r *runner) noteModes() {
	for _, p := range r.active() {
		if m := p.peer.Mode(); m != p.lastMode {
			p.lastMode = m
			p.modeChanges++
		}
	}
}

// progress prints one status line, overwriting the previous one.
func (r *runner) progress(start, prev, now sample) {
	joined, failed := 0, 0
	modes := map[string]int{}
	for _, p := range r.parts {
		select {
		case <-p.joined:
		default:
			continue
		}
		if p.ok() {
			joined++
			modes[p.lastMode]++
		} else {
			failed++
		}
	}
	dt := now.at.Sub(prev.at).Seconds()
	if dt <= 0 {
		return
	}
	var lost, expected uint64
	for _, p := range r.parts {
		if p.ok() {
			for _, s := range p.snapshot() {
				lost += s.Lost
				expected += s.Expected
			}
		}
	}
	line := fmt.Sprintf("%5.0fs joined %d/%d", now.at.Sub(start.at).Seconds(), joined, len(r.parts))
	if failed > 0 {
		line += fmt.Sprintf(" (%d failed)", failed)
	}
	line += fmt.Sprintf(" mesh/sfu %d/%d  rx %.0f pkt/s  loss %.2f%%", modes["mesh"], modes["sfu"],
		float64(now.received-prev.received)/dt, pct(lost, expected))
	if now.serverOK && prev.serverOK {
		line += fmt.Sprintf("  server %.0f%% CPU %s", 100*(now.server.CPU-prev.server.CPU).Seconds()/dt, mib(now.server.RSS))
	}
	line += fmt.Sprintf("  load tool %.0f%% CPU", 100*(now.self.CPU-prev.self.CPU).Seconds()/dt)
	fmt.Fprintf(r.stderr, "\r%-110s", line)
}

func pct(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// cores is how many CPUs this process may use.
func cores() int { return runtime.GOMAXPROCS(0) }
