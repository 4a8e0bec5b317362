package load

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// Report is what one run measured. Durations are in milliseconds in the
// JSON form (fields named …Ms), packet counts are RTP packets.
type Report struct {
	Scenario Scenario  `json:"scenario"`
	Started  time.Time `json:"started"`
	WallSec  float64   `json:"wallSeconds"`

	Participants int      `json:"participants"`
	Joined       int      `json:"joined"`
	JoinErrors   []string `json:"joinErrors,omitempty"` // the first few
	ModeChanges  int      `json:"modeChanges"`          // summed over participants

	Join    Percentiles `json:"joinMs"`    // WebSocket open → first packet of every remote track present at the join
	JoinN   int         `json:"joinCount"` // participants with something to receive at their join
	JoinMis int         `json:"joinIncomplete"`
	Latency Percentiles `json:"latencyMs"`   // send → receive, every packet
	Gap     Percentiles `json:"maxGapMs"`    // per remote stream: the longest time without a new packet
	Loss    Percentiles `json:"lossPercent"` // per subscriber
	Jitter  Percentiles `json:"jitterMs"`    // per subscriber: its worst stream's RFC 3550 jitter

	Totals        Totals `json:"totals"`
	MissingTracks int    `json:"missingTracks"` // (subscriber, publisher, kind) present at the end that never delivered a packet
	// QuietAudio counts (subscriber, publisher) audio tracks that never
	// delivered a packet in a room over loudestRoomSize, where the
	// SFU forwards only the loudest speakers' audio by design: not in
	// MissingTracks, and not an incomplete join.
	QuietAudio int `json:"quietAudio"`

	Server    *ServerUsage `json:"server,omitempty"`
	NoServer  string       `json:"noServer,omitempty"` // why Server is missing
	Generator Usage        `json:"loadTool"`
	Machine   Machine      `json:"machine"`

	Verdict string   `json:"verdict"`
	Notes   []string `json:"notes,omitempty"`

	Subscribers []SubscriberReport `json:"subscribers"`
	Streams     []StreamReport     `json:"streams"`
}

// Scenario is the run's options, without secrets.
type Scenario struct {
	URL          string  `json:"url"`
	Rooms        int     `json:"rooms"`
	Participants int     `json:"participants"`
	Publishers   int     `json:"publishers"`
	VideoBitrate int     `json:"videoBitrate"`
	AudioOnly    bool    `json:"audioOnly"`
	FrameRate    int     `json:"fps"`
	DurationSec  float64 `json:"durationSeconds"`
	Ramp         float64 `json:"ramp"`
	Policy       string  `json:"policy,omitempty"`
	RoomPrefix   string  `json:"roomPrefix"`
	Simulcast    bool    `json:"simulcast,omitempty"`
	View         string  `json:"view"`          // receive-only participants'
	PubView      string  `json:"publisherView"` // publishers'
	ViewReports  bool    `json:"viewReports"`
	Downlink     int     `json:"downlink,omitempty"` // bit/s, receive-only participants
}

// Percentiles summarise a distribution.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// loudestRoomSize is sfu.LoudestRoomSize (a test keeps them equal; the
// client does not import the server): rooms with more participants than
// this get only the loudest speakers' audio.
const loudestRoomSize = 20

// Totals are packet counts over every subscriber and stream. They add up:
// Received = Unique + Dups and Expected = Unique + Lost.
type Totals struct {
	Sent      uint64 `json:"sent"` // by publishers, over the whole run
	Received  uint64 `json:"received"`
	Unique    uint64 `json:"unique"`
	Dups      uint64 `json:"dups"`
	Expected  uint64 `json:"expected"`
	Lost      uint64 `json:"lost"`
	Unstamped uint64 `json:"unstamped"`
	// Withheld counts packets the SFU skipped on purpose (audio beyond
	// the loudest speakers of a large room, video paused for a
	// subscriber's bandwidth): neither expected nor lost.
	Withheld uint64 `json:"withheld"`
	// SteadyForwarded is what subscribers received over the SFU during
	// the steady-state window: packets the server forwarded (and that
	// arrived).
	SteadyForwarded uint64  `json:"steadyForwarded"`
	SteadySec       float64 `json:"steadySeconds"`
}

// ServerUsage is the server process's cost.
type ServerUsage struct {
	Source      string  `json:"source"`
	InProcess   bool    `json:"inProcess"` // the server runs inside the load tool: its CPU includes the tool's
	CPUSec      float64 `json:"cpuSeconds"`
	SteadyCPU   float64 `json:"steadyCpuSeconds"`
	SteadyCores float64 `json:"steadyCores"`
	RSSStart    uint64  `json:"rssStartBytes"`
	RSSPeak     uint64  `json:"rssPeakBytes"`
	RSSEnd      uint64  `json:"rssEndBytes"`
	// PktPerCPUSec is SteadyForwarded per steady-state server CPU second;
	// USPerPkt its inverse in µs.
	PktPerCPUSec float64 `json:"forwardedPerCpuSecond"`
	USPerPkt     float64 `json:"cpuMicrosPerForwarded"`
}

// Usage is the load generator's cost.
type Usage struct {
	CPUSec      float64 `json:"cpuSeconds"`
	SteadyCores float64 `json:"steadyCores"`
	RSSEnd      uint64  `json:"rssEndBytes"`
}

// Machine is how busy the whole machine was in the steady-state window
// (other jobs included), from /proc/stat.
type Machine struct {
	Cores int     `json:"cores"`
	Busy  float64 `json:"busyFraction"`
}

// SubscriberReport is one participant's reception.
type SubscriberReport struct {
	Name        string       `json:"name"`
	ID          string       `json:"id"`
	Room        string       `json:"room"`
	Publisher   bool         `json:"publisher"`
	JoinMs      float64      `json:"joinMs,omitempty"`
	LossPercent float64      `json:"lossPercent"`
	JitterMs    float64      `json:"jitterMs"`
	Streams     int          `json:"streams"`
	Error       string       `json:"error,omitempty"`
	Video       *VideoReport `json:"video,omitempty"`
}

// VideoReport is the video a participant received in the steady window,
// against what its view can show.
type VideoReport struct {
	View string `json:"view"`
	// Kbps is received video, RTP payload only (no RTP, SRTP, UDP or IP
	// headers: add ≈ 4 % for 1,100-byte packets).
	Kbps float64 `json:"kbps"`
	// PacketsPerSec is every RTP packet received (audio included): what
	// the receiver's network stack and decoders handle.
	PacketsPerSec float64 `json:"packetsPerSecond"`
	// NeededKbps is Σ over visible tiles of device pixels × 0.1 bit ×
	// 30 fps; Ratio is Kbps / NeededKbps (0 without a layout).
	NeededKbps float64 `json:"neededKbps"`
	Ratio      float64 `json:"receivedOverNeeded"`
	// Layers is the share of video packets per simulcast layer.
	Layers map[string]float64 `json:"layerShare,omitempty"`
	// Tiles and Visible count the forwarded videos and those on screen;
	// Starved, those on screen that received no video in the window.
	Tiles   int `json:"tiles"`
	Visible int `json:"visibleTiles"`
	Starved int `json:"starvedTiles"`
	// Dropped and Passed are the downlink cap's datagrams.
	DownlinkPassed  uint64 `json:"downlinkPassed,omitempty"`
	DownlinkDropped uint64 `json:"downlinkDropped,omitempty"`
}

// StreamReport is one subscriber's view of one remote track.
type StreamReport struct {
	Subscriber string `json:"subscriber"`
	From       string `json:"from"` // publisher's name
	Kind       string `json:"kind"`
	streamStats
	LatencyP50Ms float64 `json:"latencyP50Ms"`
	LatencyP99Ms float64 `json:"latencyP99Ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentiles of values (any unit).
func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	slices.Sort(v)
	at := func(q float64) float64 { return v[int(q*float64(len(v)-1)+0.5)] }
	return Percentiles{N: len(v), P50: at(0.5), P95: at(0.95), P99: at(0.99), Max: v[len(v)-1]}
}

// maxJoinErrors bounds the errors quoted in a report.
const maxJoinErrors = 5

// report builds the Report from the participants and the usage samples.
func (r *runner) report(start, s0, s1, peak sample) *Report {
	o := r.opts
	rep := &Report{
		Scenario: Scenario{
			URL: o.URL, Rooms: o.Rooms, Participants: o.Participants, Publishers: o.Publishers,
			VideoBitrate: o.VideoBitrate, AudioOnly: o.AudioOnly, FrameRate: o.FrameRate,
			DurationSec: o.Duration.Seconds(), Ramp: o.Ramp, Policy: o.Policy, RoomPrefix: o.RoomPrefix,
			Simulcast: o.Simulcast, View: o.View, PubView: o.PublisherView, ViewReports: !o.NoViewReports,
			Downlink: o.Downlink,
		},
		Started:      start.at,
		WallSec:      s1.at.Sub(start.at).Seconds(),
		Participants: len(r.parts),
	}
	names := map[string]*participant{} // by participant id
	for _, p := range r.parts {
		if p.ok() {
			rep.Joined++
			names[p.peer.ID()] = p
			rep.ModeChanges += p.modeChanges
			if p.publisher {
				rep.Totals.Sent += p.peer.Sent(pionpeer.KindAudio)
				if !o.AudioOnly {
					rep.Totals.Sent += p.peer.Sent(pionpeer.KindVideo)
				}
			}
		}
		if p.joinErr != nil && len(rep.JoinErrors) < maxJoinErrors {
			rep.JoinErrors = append(rep.JoinErrors, fmt.Sprintf("%s: %v", p.name, p.joinErr))
		}
	}
	kinds := []pionpeer.Kind{pionpeer.KindAudio, pionpeer.KindVideo}
	if o.AudioOnly {
		kinds = kinds[:1]
	}

	sizes := map[int]int{} // room → participants in it
	for _, p := range r.parts {
		if p.ok() {
			sizes[p.room]++
		}
	}
	var all hist
	var joins, losses, jitters, gaps []float64
	for _, p := range r.parts {
		sub := SubscriberReport{Name: p.name, Room: p.roomName, Publisher: p.publisher}
		if !p.ok() {
			if p.joinErr != nil {
				sub.Error = p.joinErr.Error()
			}
			rep.Subscribers = append(rep.Subscribers, sub)
			continue
		}
		sub.ID = p.peer.ID()
		sub.Video = videoReport(p, s1.at.Sub(s0.at).Seconds())
		snap := p.snapshot()
		var lost, expected uint64
		var worstJitter time.Duration
		for k, s := range snap {
			from := k.from
			if q := names[k.from]; q != nil {
				from = q.name
			}
			rep.Streams = append(rep.Streams, StreamReport{
				Subscriber: p.name, From: from, Kind: k.kind.String(), streamStats: s,
				LatencyP50Ms: ms(s.latency.quantile(0.5)), LatencyP99Ms: ms(s.latency.quantile(0.99)),
			})
			all.merge(&s.latency)
			lost += s.Lost
			expected += s.Expected
			worstJitter = max(worstJitter, s.Jitter)
			if s.Unique > 1 {
				gaps = append(gaps, ms(s.MaxGap))
			}
			t := &rep.Totals
			t.Received += s.Received
			t.Unique += s.Unique
			t.Dups += s.Dups
			t.Expected += s.Expected
			t.Lost += s.Lost
			t.Unstamped += s.Unstamped
			t.Withheld += s.Withheld
		}
		sub.Streams = len(snap)
		if expected > 0 {
			sub.LossPercent = pct(lost, expected)
			sub.JitterMs = ms(worstJitter)
			losses = append(losses, sub.LossPercent)
			jitters = append(jitters, sub.JitterMs)
		}

		// Join time: from this participant's WebSocket open to the first
		// packet of every remote track that was there when it joined.
		// Tracks that never arrived count in MissingTracks; the join
		// is then incomplete.
		var want, missing int
		var last time.Time
		for _, q := range r.parts {
			if q == p || !q.ok() || !q.publisher || q.room != p.room {
				continue
			}
			before := q.welcomeAt.Before(p.openAt)
			for _, kind := range kinds {
				if kind == pionpeer.KindVideo && !p.expectsVideo(q.peer.ID()) {
					continue // off screen: paused by the SFU
				}
				s, got := snap[streamKey{q.peer.ID(), kind}]
				if (!got || s.Unique == 0) && kind == pionpeer.KindAudio && sizes[p.room] > loudestRoomSize {
					rep.QuietAudio++
					continue
				}
				if !got || s.Unique == 0 {
					rep.MissingTracks++
					if before {
						missing++
					}
					continue
				}
				if before {
					want++
					if s.First.After(last) {
						last = s.First
					}
				}
			}
		}
		switch {
		case missing > 0:
			rep.JoinMis++
		case want > 0:
			d := last.Sub(p.openAt)
			sub.JoinMs = ms(d)
			joins = append(joins, sub.JoinMs)
		}
		rep.Subscribers = append(rep.Subscribers, sub)
	}
	rep.JoinN = len(joins) + rep.JoinMis
	rep.Join = percentiles(joins)
	rep.Loss = percentiles(losses)
	rep.Jitter = percentiles(jitters)
	rep.Gap = percentiles(gaps)
	if all.n > 0 {
		rep.Latency = Percentiles{
			N: int(all.n), P50: ms(all.quantile(0.5)), P95: ms(all.quantile(0.95)),
			P99: ms(all.quantile(0.99)), Max: float64(all.max) / 1000,
		}
	}
	slices.SortFunc(rep.Streams, func(a, b StreamReport) int {
		return cmp.Or(cmp.Compare(a.Subscriber, b.Subscriber), cmp.Compare(a.From, b.From), cmp.Compare(a.Kind, b.Kind))
	})

	steady := s1.at.Sub(s0.at).Seconds()
	rep.Totals.SteadyForwarded = s1.viaSF - s0.viaSF
	rep.Totals.SteadySec = steady
	rep.Generator = Usage{CPUSec: s1.self.CPU.Seconds(), RSSEnd: s1.self.RSS}
	if steady > 0 {
		rep.Generator.SteadyCores = (s1.self.CPU - s0.self.CPU).Seconds() / steady
	}
	rep.Machine.Cores = cores()
	if s0.busyOK && s1.busyOK && s1.total > s0.total {
		rep.Machine.Busy = float64(s1.busy-s0.busy) / float64(s1.total-s0.total)
	}
	if r.server != nil && s1.serverOK && start.serverOK {
		srv := &ServerUsage{
			Source:   r.server.describe(),
			CPUSec:   (s1.server.CPU - start.server.CPU).Seconds(),
			RSSStart: start.server.RSS,
			RSSPeak:  max(peak.server.RSS, s1.server.RSS),
			RSSEnd:   s1.server.RSS,
		}
		if ps, ok := r.server.(procSource); ok && ps.pid == os.Getpid() {
			srv.InProcess = true
			rep.Notes = append(rep.Notes, "the server runs inside the load tool's process: its CPU figures include the load generator's")
		}
		if s0.serverOK && steady > 0 {
			srv.SteadyCPU = (s1.server.CPU - s0.server.CPU).Seconds()
			srv.SteadyCores = srv.SteadyCPU / steady
			if srv.SteadyCPU > 0 && rep.Totals.SteadyForwarded > 0 {
				srv.PktPerCPUSec = float64(rep.Totals.SteadyForwarded) / srv.SteadyCPU
				srv.USPerPkt = 1e6 / srv.PktPerCPUSec
			}
		}
		rep.Server = srv
	} else {
		rep.NoServer = r.noSrv
		if rep.NoServer == "" {
			rep.NoServer = "the server's usage could not be read during the run"
		}
	}
	rep.Verdict = verdict(rep)
	return rep
}

// videoReport is p's video in the steady window of sec seconds; nil for a
// participant that received no video and shows none.
func videoReport(p *participant, sec float64) *VideoReport {
	a, b := p.steady[0], p.steady[1]
	if sec <= 0 || b.video == nil {
		return nil
	}
	tiles := p.currentTiles()
	if b.videoBytes == 0 && len(tiles) == 0 {
		return nil
	}
	v := &VideoReport{
		View:          p.view.String(),
		Kbps:          float64(b.videoBytes-a.videoBytes) * 8 / sec / 1000,
		PacketsPerSec: float64(b.packets-a.packets) / sec,
		NeededKbps:    needed(tiles) / 1000,
		Tiles:         len(tiles),
	}
	if v.NeededKbps > 0 {
		v.Ratio = v.Kbps / v.NeededKbps
	}
	var pkts uint64
	for i := range layerNames {
		pkts += b.layers[i] - a.layers[i]
	}
	for i, name := range layerNames {
		if n := b.layers[i] - a.layers[i]; n > 0 {
			if v.Layers == nil {
				v.Layers = map[string]float64{}
			}
			v.Layers[name] = float64(n) / float64(pkts)
		}
	}
	for _, t := range tiles {
		if !t.item.Visible {
			continue
		}
		v.Visible++
		if b.video[t.from] == a.video[t.from] {
			v.Starved++
		}
	}
	d := p.peer.Downlink()
	v.DownlinkPassed, v.DownlinkDropped = d.Passed, d.Dropped
	return v
}

// verdict says who limited the run: when the machine was saturated, the
// side that used more CPU is the bottleneck, and if that is the load
// generator, loss and latency describe it rather than the server.
func verdict(rep *Report) string {
	if rep.Machine.Busy < 0.85 {
		return fmt.Sprintf("machine not saturated (%.0f %% busy): the figures are the server's", 100*rep.Machine.Busy)
	}
	srv := 0.0
	if rep.Server != nil && !rep.Server.InProcess {
		srv = rep.Server.SteadyCores
	}
	gen := rep.Generator.SteadyCores
	if rep.Server != nil && rep.Server.InProcess {
		return fmt.Sprintf("machine saturated (%.0f %% busy) with the server inside the load tool: figures are upper bounds", 100*rep.Machine.Busy)
	}
	if gen > srv {
		return fmt.Sprintf("LOAD TOOL WAS THE BOTTLENECK: machine %.0f %% busy, load tool %.2f cores vs server %.2f; loss and latency describe the load tool, not the server — run it on another machine", 100*rep.Machine.Busy, gen, srv)
	}
	return fmt.Sprintf("server-bound: machine %.0f %% busy, server %.2f cores vs load tool %.2f", 100*rep.Machine.Busy, srv, gen)
}

// WriteJSON prints the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("load: encode report: %w", err)
	}
	return nil
}

// WriteTable prints the report for people.
func (rep *Report) WriteTable(w io.Writer) error {
	sc := rep.Scenario
	media := fmt.Sprintf("VP8 %s @ %d fps + Opus", bitrateString(sc.VideoBitrate), sc.FrameRate)
	if sc.AudioOnly {
		media = "Opus only"
	}
	fmt.Fprintf(w, "parley load: %d room(s) × %d participants (%d publishing: %s), %.0f s, ramp %.1f/s", sc.Rooms, sc.Participants, sc.Publishers, media, sc.DurationSec, sc.Ramp)
	if sc.Policy != "" {
		fmt.Fprintf(w, ", policy %s", sc.Policy)
	}
	if sc.Simulcast {
		fmt.Fprintf(w, ", simulcast q/h/f")
	}
	if sc.View != "none" || sc.PubView != "none" {
		fmt.Fprintf(w, ", view %s (publishers %s)", sc.View, sc.PubView)
		if !sc.ViewReports {
			fmt.Fprintf(w, " NOT reported to the SFU")
		}
	}
	if sc.Downlink > 0 {
		fmt.Fprintf(w, ", downlink capped at %s", bitrateString(sc.Downlink))
	}
	fmt.Fprintf(w, "\n  server %s, rooms %s-*\n\n", sc.URL, sc.RoomPrefix)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(what string, p Percentiles, unit string, dec int) {
		if p.N == 0 {
			fmt.Fprintf(tw, "%s\t—\t\t\t\t\n", what)
			return
		}
		f := func(v float64) string { return fmt.Sprintf("%.*f", dec, v) }
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t(n=%d)\n", what, f(p.P50), f(p.P95), f(p.P99), f(p.Max), unit, p.N)
	}
	fmt.Fprintf(tw, "\tp50\tp95\tp99\tmax\t\n")
	row("join → every remote track", rep.Join, "ms", 0)
	row("one-way latency (pion → server → pion)", rep.Latency, "ms", 1)
	row("loss per subscriber", rep.Loss, "%", 2)
	row("jitter per subscriber (worst stream)", rep.Jitter, "ms", 1)
	row("longest gap per remote stream", rep.Gap, "ms", 0)
	tw.Flush()

	t := rep.Totals
	fmt.Fprintf(w, "\njoined %d/%d", rep.Joined, rep.Participants)
	if rep.JoinMis > 0 {
		fmt.Fprintf(w, ", %d incomplete joins", rep.JoinMis)
	}
	if rep.MissingTracks > 0 {
		fmt.Fprintf(w, ", %d remote tracks NEVER ARRIVED", rep.MissingTracks)
	}
	if rep.QuietAudio > 0 {
		fmt.Fprintf(w, ", %d remote audio tracks not forwarded (above %d participants the SFU forwards only the loudest speakers)", rep.QuietAudio, loudestRoomSize)
	}
	fmt.Fprintf(w, "; mode changes seen: %d\n", rep.ModeChanges)
	fmt.Fprintf(w, "packets: sent %d, received %d (%d duplicates across switch paths), lost %d of %d expected (%.3f %%)",
		t.Sent, t.Received, t.Dups, t.Lost, t.Expected, pct(t.Lost, t.Expected))
	if t.Withheld > 0 {
		fmt.Fprintf(w, "; %d withheld by the SFU on purpose (loudest speakers, bandwidth pauses)", t.Withheld)
	}
	fmt.Fprintln(w)
	if s := rep.Server; s != nil {
		fmt.Fprintf(w, "server (%s): %.1f CPU-s over the run, %.2f cores in the steady %.0f s; RSS %s → peak %s → %s\n",
			s.Source, s.CPUSec, s.SteadyCores, t.SteadySec, mib(s.RSSStart), mib(s.RSSPeak), mib(s.RSSEnd))
		if s.PktPerCPUSec > 0 {
			fmt.Fprintf(w, "forwarded by the SFU: %d packets in the steady window, %.0f per server CPU-second = %.1f µs of server CPU per forwarded packet\n",
				t.SteadyForwarded, s.PktPerCPUSec, s.USPerPkt)
		} else if t.SteadyForwarded == 0 {
			fmt.Fprintf(w, "forwarded by the SFU: none (mesh: media went peer to peer)\n")
		}
	} else {
		fmt.Fprintf(w, "server CPU/RSS: unknown (%s)\n", rep.NoServer)
	}
	fmt.Fprintf(w, "load tool: %.1f CPU-s, %.2f cores in the steady window; machine: %d cores, %.0f %% busy\n",
		rep.Generator.CPUSec, rep.Generator.SteadyCores, rep.Machine.Cores, 100*rep.Machine.Busy)
	fmt.Fprintf(w, "verdict: %s\n", rep.Verdict)
	for _, e := range rep.JoinErrors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}

	writeVideo(w, rep.Subscribers)

	// The worst subscribers, so an operator sees who suffered.
	worst := slices.Clone(rep.Subscribers)
	slices.SortFunc(worst, func(a, b SubscriberReport) int { return cmp.Compare(b.LossPercent, a.LossPercent) })
	if len(worst) > 0 && worst[0].LossPercent > 0 {
		fmt.Fprintf(w, "\nworst subscribers by loss:\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "name\troom\tloss\tjitter\tjoin\n")
		for _, s := range worst[:min(5, len(worst))] {
			fmt.Fprintf(tw, "%s\t%s\t%.2f %%\t%.1f ms\t%.0f ms\n", s.Name, s.Room, s.LossPercent, s.JitterMs, s.JoinMs)
		}
		tw.Flush()
	}
	return nil
}

// maxVideoRows bounds the per-subscriber video table: the receive-only
// participants first (the viewers a run is usually about).
const maxVideoRows = 8

// writeVideo prints what the participants with a view or a video feed
// received against what they need.
func writeVideo(w io.Writer, subs []SubscriberReport) {
	var rows []SubscriberReport
	for _, s := range subs {
		if s.Video != nil && !s.Publisher {
			rows = append(rows, s)
		}
	}
	for _, s := range subs {
		if s.Video != nil && s.Publisher && s.Video.Kbps > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nvideo received in the steady window (RTP payload):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "name\tview\tpkt/s in\tvideo\tneeded\treceived/needed\ttiles on screen\tstarved\tlayer mix\tdownlink drops\n")
	for _, s := range rows[:min(maxVideoRows, len(rows))] {
		v := s.Video
		ratio, need := "—", "—"
		if v.NeededKbps > 0 {
			ratio, need = fmt.Sprintf("%.2f×", v.Ratio), fmt.Sprintf("%.2f Mbit/s", v.NeededKbps/1000)
		}
		drops := "—"
		if v.DownlinkPassed+v.DownlinkDropped > 0 {
			drops = fmt.Sprintf("%.1f %%", pct(v.DownlinkDropped, v.DownlinkPassed+v.DownlinkDropped))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2f Mbit/s\t%s\t%s\t%d/%d\t%d\t%s\t%s\n", s.Name, v.View, v.PacketsPerSec, v.Kbps/1000, need, ratio,
			v.Visible, v.Tiles, v.Starved, layerMix(v.Layers), drops)
	}
	tw.Flush()
	if len(rows) > maxVideoRows {
		fmt.Fprintf(w, "… and %d more (--json lists every one)\n", len(rows)-maxVideoRows)
	}
}

// layerMix prints the layer shares, lowest layer first.
func layerMix(shares map[string]float64) string {
	var parts []string
	for _, name := range layerNames {
		if f, ok := shares[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f %%", name[:strings.IndexByte(name+" ", ' ')], 100*f))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func bitrateString(b int) string {
	if b >= 1_000_000 {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(b)/1e6), ".0") + " Mbit/s"
	}
	return fmt.Sprintf("%d kbit/s", b/1000)
}
