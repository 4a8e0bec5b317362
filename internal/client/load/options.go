package load

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds on what one run may ask for. The tool must stop by itself and must
// not be turned into a flood: every count and duration is capped, and the
// caps are far above what one machine's worth of pion participants can
// drive anyway (each costs the load generator ≈ 1–3 % of a core at 800
// kbit/s in an 8-person SFU room).
const (
	// maxParticipants caps rooms × participants.
	maxParticipants = 500
	// maxDuration caps --duration.
	maxDuration = time.Hour
	// maxRamp caps joins per second: each join is a WebSocket, a DTLS
	// handshake or more; beyond this the tool measures its own CPU.
	maxRamp = 100
	// maxBitrate caps --video-bitrate (bit/s).
	maxBitrate = 20_000_000
	// minDownlink is the lowest --downlink: below 64 kbit/s not even the
	// room's audio fits, and the run measures nothing but loss.
	minDownlink = 64_000
	// maxDownlink caps --downlink: above a gigabit the shaper's timer
	// resolution, not the cap, limits.
	maxDownlink = 1_000_000_000
)

// Defaults for flags left out.
const (
	defaultDuration  = 30 * time.Second
	defaultRamp      = 10
	defaultBitrate   = 800_000
	defaultFrameRate = 30 // what Chromium sends a camera at, at these bitrates
)

// Options is one run's scenario. Zero values mean the defaults above.
type Options struct {
	// URL is the server's base URL (http://host:port) or its WebSocket
	// endpoint (ws://host:port/ws); the tool talks to nothing else.
	URL string
	// Rooms and Participants (per room), of whom Publishers per room send
	// media (the first ones to join); the rest only receive. Publishers
	// < 0 means everyone.
	Rooms, Participants, Publishers int
	// VideoBitrate is the synthetic VP8's average bit/s; AudioOnly sends
	// Opus only.
	VideoBitrate int
	AudioOnly    bool
	// FrameRate is the video's frames per second (default 30).
	FrameRate int
	// Simulcast makes publishers send their video to the SFU as three
	// layers (RIDs q, h, f: 320×180, 640×360 and 1280×720 at a tenth, a
	// third and all of VideoBitrate), as the browser does in SFU mode.
	Simulcast bool
	// NoTemporal sends each simulcast layer as one temporal layer
	// instead of L1T3 (three VP8 temporal layers, as Chromium sends).
	NoTemporal bool
	// View is how the participants that only receive show the remote
	// videos (view.go): none (the default: no layout, no view reports),
	// hidden, thumbnails, or a browser grid of WIDTHxHEIGHT[@DPR] CSS
	// pixels; PublisherView is the same for publishers (default: as
	// View). NoViewReports computes the receive-only participants' layout
	// (for "needed") without telling the SFU, as a browser that sends no
	// view reports; publishers' views are reported all the same.
	View, PublisherView string
	NoViewReports       bool
	// Downlink, when positive, caps what each participant that only
	// receives can receive, in bit/s (pionpeer.Config.DownlinkBitrate).
	Downlink int
	// Duration is how long everyone stays once the last one joined.
	Duration time.Duration
	// Ramp is joins per second, over all rooms.
	Ramp float64
	// Policy, with AdminToken, is set on every room (admin API) right
	// after its first participant joined: auto, mesh-only or sfu-only.
	Policy, AdminToken string
	// ServerPID names the server's process when the port lookup cannot
	// find it; MetricsURL is its Prometheus endpoint (fallback for CPU and
	// RSS when it runs elsewhere).
	ServerPID  int
	MetricsURL string
	// RoomPrefix names the rooms: PREFIX-1, PREFIX-2, … (default
	// "load-" and a random suffix, so runs never meet real rooms).
	RoomPrefix string
	// JSON prints the report as JSON instead of a table.
	JSON bool
	// Quiet turns off the progress line.
	Quiet bool
}

// errUsage marks a bad command line (exit status 2).
var errUsage = errors.New("usage")

// parseFlags reads the command line into Options and checks the bounds.
func parseFlags(args []string, stderr io.Writer) (Options, error) {
	var o Options
	var bitrate, duration, downlink string
	var viewReports, temporal bool
	fs := flag.NewFlagSet("parley load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: parley load --url http://127.0.0.1:8080 [flags]\n\n"+
			"Synthetic pion participants join rooms on a Parley server through the real\n"+
			"protocol, publish VP8/Opus and measure what they receive. See docs/load.md.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.URL, "url", "", "server base URL (http://host:port) or WebSocket URL (ws://host:port/ws), or a comma-separated list of a cluster's nodes; required")
	fs.IntVar(&o.Rooms, "rooms", 1, "number of rooms")
	fs.IntVar(&o.Participants, "participants", 8, "participants per room")
	fs.IntVar(&o.Publishers, "publishers", -1, "publishers per room (the first to join); -1 means everyone")
	fs.StringVar(&bitrate, "video-bitrate", "800k", "average VP8 bitrate per publisher: 300k, 800k, 1.5M, …")
	fs.BoolVar(&o.AudioOnly, "audio-only", false, "publish Opus only")
	fs.IntVar(&o.FrameRate, "fps", defaultFrameRate, "video frames per second")
	fs.BoolVar(&o.Simulcast, "simulcast", false, "publishers send three simulcast layers to the SFU (q/h/f: 320×180, 640×360, 1280×720 at 1/10, 1/3 and all of --video-bitrate)")
	fs.BoolVar(&temporal, "temporal", true, "with --simulcast, each layer carries three VP8 temporal layers (L1T3: TIDs 0,2,1,2), as Chromium sends; false: one")
	fs.StringVar(&o.View, "view", "none", "what receive-only participants show: none, hidden, thumbnails, or a browser grid WIDTHxHEIGHT[@DPR] (CSS px), reported to the SFU")
	fs.StringVar(&o.PublisherView, "publisher-view", "", "the same for publishers (default: as --view); hidden keeps a big room's publishers from receiving video")
	fs.BoolVar(&viewReports, "view-reports", true, "send the receive-only participants' views to the SFU; false only computes them for \"needed\", as a browser that sends no view reports (publishers' views are always sent)")
	fs.StringVar(&downlink, "downlink", "", "cap each receive-only participant's downlink: 500k, 1.5M, … (token bucket under its socket)")
	fs.StringVar(&duration, "duration", defaultDuration.String(), "how long to stay once everyone joined (max 1h)")
	fs.Float64Var(&o.Ramp, "ramp", defaultRamp, "joins per second, over all rooms")
	fs.StringVar(&o.Policy, "policy", "", "room policy to set through the admin API: auto, mesh-only or sfu-only (needs --admin-token)")
	fs.StringVar(&o.AdminToken, "admin-token", "", "the server's admin token, for --policy")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "the server's process id, when it runs on this machine and the port lookup fails")
	fs.StringVar(&o.MetricsURL, "metrics-url", "", "the server's Prometheus endpoint, for CPU and RSS of a server on another machine")
	fs.StringVar(&o.RoomPrefix, "room-prefix", "", "room name prefix (default load-<random>)")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var err error
	if o.VideoBitrate, err = parseBitrate(bitrate); err != nil {
		return o, fmt.Errorf("%w: --video-bitrate: %v", errUsage, err)
	}
	o.NoViewReports = !viewReports
	o.NoTemporal = !temporal
	if downlink != "" {
		if o.Downlink, err = parseBitrate(downlink); err != nil {
			return o, fmt.Errorf("%w: --downlink: %v", errUsage, err)
		}
	}
	if o.Duration, err = time.ParseDuration(duration); err != nil {
		return o, fmt.Errorf("%w: --duration: %v", errUsage, err)
	}
	if err := o.check(); err != nil {
		return o, err
	}
	return o, nil
}

// check validates the scenario and fills defaults.
func (o *Options) check() error {
	if o.URL == "" {
		return fmt.Errorf("%w: --url is required", errUsage)
	}
	if err := o.checkURLs(); err != nil {
		return err
	}
	if o.Rooms < 1 || o.Participants < 1 {
		return fmt.Errorf("%w: --rooms and --participants must be at least 1", errUsage)
	}
	if o.Rooms*o.Participants > maxParticipants {
		return fmt.Errorf("%w: %d participants in all; the limit is %d", errUsage, o.Rooms*o.Participants, maxParticipants)
	}
	if o.Publishers < 0 || o.Publishers > o.Participants {
		o.Publishers = o.Participants
	}
	if o.VideoBitrate == 0 {
		o.VideoBitrate = defaultBitrate
	}
	if o.VideoBitrate < 10_000 || o.VideoBitrate > maxBitrate {
		return fmt.Errorf("%w: --video-bitrate %d is outside 10k..20M", errUsage, o.VideoBitrate)
	}
	if o.FrameRate == 0 {
		o.FrameRate = defaultFrameRate
	}
	if o.FrameRate < 1 || o.FrameRate > 60 {
		return fmt.Errorf("%w: --fps %d is outside 1..60", errUsage, o.FrameRate)
	}
	if o.Duration == 0 {
		o.Duration = defaultDuration
	}
	if o.Duration < time.Second || o.Duration > maxDuration {
		return fmt.Errorf("%w: --duration %v is outside 1s..1h", errUsage, o.Duration)
	}
	if o.Ramp == 0 {
		o.Ramp = defaultRamp
	}
	if o.Ramp < 0.1 || o.Ramp > maxRamp {
		return fmt.Errorf("%w: --ramp %v is outside 0.1..100 joins/s", errUsage, o.Ramp)
	}
	if o.Downlink != 0 && (o.Downlink < minDownlink || o.Downlink > maxDownlink) {
		return fmt.Errorf("%w: --downlink %d is outside 64k..1000M", errUsage, o.Downlink)
	}
	if o.PublisherView == "" {
		o.PublisherView = o.View
	}
	for _, v := range []string{o.View, o.PublisherView} {
		if _, err := parseView(v); err != nil {
			return fmt.Errorf("%w: --view: %v", errUsage, err)
		}
	}
	switch o.Policy {
	case "":
	case "auto", "mesh-only", "sfu-only":
		if o.AdminToken == "" {
			return fmt.Errorf("%w: --policy needs --admin-token", errUsage)
		}
	default:
		return fmt.Errorf("%w: --policy %q: want auto, mesh-only or sfu-only", errUsage, o.Policy)
	}
	return nil
}

// parseBitrate reads "800k", "1.5M", "300000" as bit/s.
func parseBitrate(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad bitrate %q (want e.g. 300k, 800k, 1.5M)", s)
	}
	return int(v * mult), nil
}

// wsURL turns the --url into the signaling endpoint.
func wsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("scheme %q: want http, https, ws or wss", u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q has no host", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	return u.String(), nil
}

// httpBase is the server's base URL for the admin API and /metrics.
func httpBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}
