package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
	"github.com/parleyhq/parley/sfu"
)

// runReport runs the tool with args (which ask for --json) and decodes
// its report.
func runReport(t *testing.T, args []string) *Report {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if code := Main(ctx, args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	return &rep
}

// TestSmoke runs the tool for a few seconds against a real server: two mesh
// rooms of three, then one SFU room of eight (two publishing, the policy set
// through the admin API). Every subscriber must receive every expected
// track, and the report's counts must add up. No speed is asserted.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pion participants")
	}
	srv := testserver.Start(t, func(c *config.Config) { c.LogLevel = "info" })
	for _, tc := range []struct {
		name string
		args []string
		mode string
	}{
		{"mesh", []string{"--rooms", "2", "--participants", "3"}, "mesh"},
		{"sfu", []string{"--rooms", "1", "--participants", "8", "--publishers", "2", "--policy", "sfu-only", "--admin-token", testserver.AdminToken}, "sfu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := runReport(t, append([]string{"--url", srv.URL, "--duration", "4s", "--video-bitrate", "300k", "--fps", "15", "--ramp", "20", "--json", "--quiet"}, tc.args...))
			checkReport(t, rep, tc.mode)
		})
	}
}

// TestSimulcastViewsAndDownlink: three simulcast publishers that hide
// every video, and one viewer. With a 640×360 grid (four tiles of about
// 316×178) the viewer gets the quarter layer of everyone, and nothing is
// starved; with a 500 kbit/s downlink and no view (the top layers, 900
// kbit/s) the cap holds and drops.
func TestSimulcastViewsAndDownlink(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pion participants")
	}
	srv := testserver.Start(t, func(c *config.Config) { c.LogLevel = "info" })
	run := func(t *testing.T, extra ...string) *Report {
		t.Helper()
		rep := runReport(t, append([]string{"--url", srv.URL, "--duration", "4s", "--video-bitrate", "300k", "--fps", "15", "--ramp", "20",
			"--json", "--quiet", "--participants", "4", "--publishers", "3", "--simulcast", "--publisher-view", "hidden",
			"--policy", "sfu-only", "--admin-token", testserver.AdminToken}, extra...))
		if rep.Joined != 4 {
			t.Fatalf("joined %d/4: %v", rep.Joined, rep.JoinErrors)
		}
		return rep
	}
	viewer := func(t *testing.T, rep *Report) *VideoReport {
		t.Helper()
		for _, s := range rep.Subscribers {
			if s.Publisher && s.Video != nil && s.Video.Kbps > 10 {
				t.Errorf("publisher %s hides every video but received %.0f kbit/s", s.Name, s.Video.Kbps)
			}
		}
		for _, s := range rep.Subscribers {
			if !s.Publisher {
				if s.Video == nil {
					t.Fatalf("the viewer has no video report: %+v", s)
				}
				return s.Video
			}
		}
		t.Fatal("no viewer")
		return nil
	}
	t.Run("grid", func(t *testing.T) {
		v := viewer(t, run(t, "--view", "640x360"))
		if v.Tiles != 3 || v.Visible != 3 || v.Starved != 0 {
			t.Errorf("tiles %d, visible %d, starved %d; want 3, 3, 0", v.Tiles, v.Visible, v.Starved)
		}
		if v.Layers["q 320×180"] < 0.8 {
			t.Errorf("layer mix %v: want mostly q", v.Layers)
		}
		// Three q layers at 30 kbit/s against 3 × 316×178 × 3 bit/s.
		if v.NeededKbps < 400 || v.NeededKbps > 600 || v.Kbps < 40 || v.Kbps > 200 {
			t.Errorf("received %.0f kbit/s, needed %.0f", v.Kbps, v.NeededKbps)
		}
	})
	t.Run("downlink", func(t *testing.T) {
		v := viewer(t, run(t, "--downlink", "500k"))
		if v.Kbps > 520 || v.DownlinkDropped == 0 {
			t.Errorf("behind a 500 kbit/s cap: %.0f kbit/s of video, %d datagrams dropped of %d",
				v.Kbps, v.DownlinkDropped, v.DownlinkDropped+v.DownlinkPassed)
		}
		// Without a view the viewer asks for the top layer (1.5 Mbit/s);
		// the SFU's downlink estimate (sfu.bandwidth_adaptation, on by
		// default) moves it to what the cap carries.
		if v.Layers["f 1280×720"] > 0.5 {
			t.Errorf("layer mix %v: behind a 500 kbit/s cap the SFU kept the 1.5 Mbit/s top layer", v.Layers)
		}
	})
}

func checkReport(t *testing.T, rep *Report, mode string) {
	t.Helper()
	sc := rep.Scenario
	n := sc.Rooms * sc.Participants
	if rep.Joined != n || len(rep.JoinErrors) > 0 {
		t.Fatalf("joined %d/%d: %v", rep.Joined, n, rep.JoinErrors)
	}
	if rep.MissingTracks != 0 {
		t.Errorf("%d remote tracks never arrived", rep.MissingTracks)
	}

	// Every subscriber has a stream from every other publisher of its
	// room, of both kinds, with packets in it.
	rooms := map[string][]SubscriberReport{}
	for _, s := range rep.Subscribers {
		rooms[s.Room] = append(rooms[s.Room], s)
	}
	got := map[[3]string]StreamReport{}
	for _, s := range rep.Streams {
		got[[3]string{s.Subscriber, s.From, s.Kind}] = s
	}
	for room, members := range rooms {
		if len(members) != sc.Participants {
			t.Errorf("room %s has %d participants, want %d", room, len(members), sc.Participants)
		}
		for _, sub := range members {
			for _, pub := range members {
				if pub.Name == sub.Name || !pub.Publisher {
					continue
				}
				for _, kind := range []string{"audio", "video"} {
					s, ok := got[[3]string{sub.Name, pub.Name, kind}]
					if !ok || s.Unique == 0 {
						t.Errorf("%s received no %s from %s", sub.Name, kind, pub.Name)
					}
				}
			}
		}
	}
	wantStreams := 0
	for _, members := range rooms {
		pubs := 0
		for _, m := range members {
			if m.Publisher {
				pubs++
			}
		}
		for _, m := range members {
			if m.Publisher {
				wantStreams += 2 * (pubs - 1)
			} else {
				wantStreams += 2 * pubs
			}
		}
	}
	if len(rep.Streams) != wantStreams {
		t.Errorf("%d streams in the report, want %d", len(rep.Streams), wantStreams)
	}

	// The counts add up, per stream and in total.
	var sum Totals
	for _, s := range rep.Streams {
		if s.Received != s.Unique+s.Dups || s.Expected != s.Unique+s.Lost {
			t.Errorf("stream %s←%s %s: received %d ≠ unique %d + dups %d, or expected %d ≠ unique + lost %d",
				s.Subscriber, s.From, s.Kind, s.Received, s.Unique, s.Dups, s.Expected, s.Lost)
		}
		if s.Unstamped != 0 {
			t.Errorf("stream %s←%s %s: %d packets without a stamp", s.Subscriber, s.From, s.Kind, s.Unstamped)
		}
		sum.Received += s.Received
		sum.Unique += s.Unique
		sum.Dups += s.Dups
		sum.Expected += s.Expected
		sum.Lost += s.Lost
	}
	tt := rep.Totals
	if sum.Received != tt.Received || sum.Unique != tt.Unique || sum.Dups != tt.Dups || sum.Expected != tt.Expected || sum.Lost != tt.Lost {
		t.Errorf("totals %+v do not match the streams' sums %+v", tt, sum)
	}
	// Nobody receives more distinct packets of a stream than were sent
	// in all: sent counts every publisher's packets once per track.
	if tt.Unique > tt.Sent*uint64(sc.Participants-1) {
		t.Errorf("unique packets %d exceed sent %d × %d receivers", tt.Unique, tt.Sent, sc.Participants-1)
	}
	if rep.Join.N == 0 || rep.Latency.N == 0 {
		t.Errorf("no join or latency samples: %+v %+v", rep.Join, rep.Latency)
	}
	if uint64(rep.Latency.N) != tt.Unique {
		t.Errorf("latency samples %d ≠ unique packets %d", rep.Latency.N, tt.Unique)
	}
	if mode == "sfu" && tt.SteadyForwarded == 0 {
		t.Error("an SFU room, but nothing arrived over the SFU in the steady window")
	}
	if mode == "mesh" && tt.SteadyForwarded != 0 {
		t.Errorf("mesh rooms, but %d packets arrived over the SFU", tt.SteadyForwarded)
	}
	if rep.Server == nil || !rep.Server.InProcess {
		t.Errorf("the in-process test server was not found by its port: %+v (%s)", rep.Server, rep.NoServer)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "join → every remote track") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	t.Logf("\n%s", table.String())
}

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int{"300k": 300_000, "800K": 800_000, "1.5M": 1_500_000, "250000": 250_000} {
		if got, err := parseBitrate(in); err != nil || got != want {
			t.Errorf("parseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1k", "0"} {
		if _, err := parseBitrate(in); err == nil {
			t.Errorf("parseBitrate(%q) accepted", in)
		}
	}
}

func TestFlagBounds(t *testing.T) {
	for _, args := range [][]string{
		{},                   // no URL
		{"--url", "ftp://x"}, // scheme
		{"--url", "http://x", "--rooms", "100", "--participants", "6"}, // > 500
		{"--url", "http://x", "--duration", "2h"},
		{"--url", "http://x", "--ramp", "1000"},
		{"--url", "http://x", "--policy", "sfu-only"}, // no token
		{"--url", "http://x", "--policy", "fast", "--admin-token", "t"},
	} {
		var errOut bytes.Buffer
		if code := Main(context.Background(), args, &bytes.Buffer{}, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":     "ws://127.0.0.1:8080/ws",
		"https://meet.example/":     "wss://meet.example/ws",
		"ws://127.0.0.1:8080/ws":    "ws://127.0.0.1:8080/ws",
		"ws://127.0.0.1:8080/other": "ws://127.0.0.1:8080/other",
	} {
		if got, err := wsURL(in); err != nil || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Millisecond, 0.99: 990 * time.Millisecond} {
		got := h.quantile(q)
		if d := got - want; d < -want/15 || d > want/15 {
			t.Errorf("quantile(%v) = %v, want %v ± 1/16", q, got, want)
		}
	}
	if h.quantile(1) > time.Second {
		t.Errorf("quantile(1) = %v beyond the max", h.quantile(1))
	}
	for i := 0; i < histBuckets; i++ {
		low, w := histLow(i)
		if histIndex(low) != i || histIndex(low+w-1) != i {
			t.Fatalf("bucket %d: [%d, %d) does not map back", i, low, low+w)
		}
	}
}

// TestStreamLossAndDuplicates feeds a stream packets out of order, with a
// gap and a duplicate, as a switch would deliver them.
func TestStreamLossAndDuplicates(t *testing.T) {
	var s stream
	now := time.Now()
	for i, seq := range []uint32{10, 11, 13, 12, 12, 15} {
		s.onPacket(stamped(seq, now), 1, uint16(seq), now.Add(time.Duration(i)*time.Millisecond))
	}
	s.onPacket([]byte("no stamp here at all"), 1, 99, now)
	st := s.stats()
	want := streamStats{Received: 6, Unique: 5, Dups: 1, Unstamped: 1, Expected: 6, Lost: 1}
	if st.Received != want.Received || st.Unique != want.Unique || st.Dups != want.Dups ||
		st.Unstamped != want.Unstamped || st.Expected != want.Expected || st.Lost != want.Lost {
		t.Errorf("stats %+v, want counts %+v", st, want)
	}
	if st.MaxGap != 2*time.Millisecond { // 12 (dup at +4 ms) does not count: 13 at +2, 12 at +3, 15 at +5
		t.Errorf("max gap %v, want 2ms", st.MaxGap)
	}
}

// TestStreamLayerSwitch: packets of two simulcast layers, each numbered on
// its own, as the SFU forwards them across switches h → f → h: what went
// by on the layer not forwarded is not loss; a real gap within a layer is.
func TestStreamLayerSwitch(t *testing.T) {
	var s stream
	now := time.Now()
	feed := func(layer byte, seqs ...uint32) {
		for _, seq := range seqs {
			b := stamped(seq, now)
			b[len(b)-pionpeer.StampSize+3] = layer
			s.onPacket(b, 7, uint16(seq), now)
		}
	}
	feed('h', 100, 101, 102)
	feed('f', 500, 501, 503) // 502 lost
	feed('h', 180, 181)      // 103–179 went by while f was forwarded
	feed('f', 900)           // 504–899 likewise
	st := s.stats()
	if st.Unique != 9 || st.Lost != 1 || st.Expected != 10 {
		t.Errorf("unique %d, lost %d, expected %d; want 9, 1, 10", st.Unique, st.Lost, st.Expected)
	}
}

// TestStreamWithheld: a jump in the tool's numbering across consecutive RTP
// sequence numbers is what the SFU withheld on purpose (a large room's
// loudest-N audio, a bandwidth pause), not loss; a jump with an RTP gap
// is loss, and so is a jump whose RTP numbers went to another SSRC.
func TestStreamWithheld(t *testing.T) {
	var s stream
	now := time.Now()
	feed := func(ssrc uint32, rtpSeq uint16, stamp uint32) {
		s.onPacket(stamped(stamp, now), ssrc, rtpSeq, now)
	}
	feed(1, 65534, 10)
	feed(1, 65535, 11)
	feed(1, 0, 60)   // 12–59 withheld: RTP wraps, no gap
	feed(1, 2, 62)   // 61 lost: RTP 1 is missing too
	feed(2, 500, 70) // 63–69 lost: a new SSRC says nothing of what went before
	feed(1, 3, 80)   // 71–79 lost: SSRC 1's last was 62, not the newest (70)
	st := s.stats()
	if st.Withheld != 48 || st.Lost != 17 || st.Unique != 6 || st.Expected != 23 {
		t.Errorf("withheld %d, lost %d, unique %d, expected %d; want 48, 17, 6, 23", st.Withheld, st.Lost, st.Unique, st.Expected)
	}
}

func TestLoudestRoomSizeIsTheSFUs(t *testing.T) {
	if loudestRoomSize != sfu.LoudestRoomSize {
		t.Errorf("loudestRoomSize %d, the SFU's %d", loudestRoomSize, sfu.LoudestRoomSize)
	}
}

// stamped builds a payload ending with a pionpeer Stamp, written here from
// its documented layout: "PRLY", packet number, send time in ns.
func stamped(seq uint32, sent time.Time) []byte {
	b := make([]byte, 40)
	t := b[len(b)-pionpeer.StampSize:]
	binary.BigEndian.PutUint32(t[0:4], 0x50524c59)
	binary.BigEndian.PutUint32(t[4:8], seq)
	binary.BigEndian.PutUint64(t[8:16], uint64(sent.UnixNano()))
	if st, ok := pionpeer.ParseStamp(b); !ok || st.Seq != seq {
		panic("stamp layout changed")
	}
	return b
}
