package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testlog"
)

const metricsToken = "e2e-metrics-token"

// scrape fetches the metrics listener's page with the token and parses it
// with the Prometheus text parser.
func scrape(t *testing.T, addr, token string) (map[string]*dto.MetricFamily, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, resp.StatusCode
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the metrics page does not parse: %v", err)
	}
	return fams, resp.StatusCode
}

// sample returns the value of name's series whose labels include labels
// (name=value pairs), and whether it exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsAfterACall (docs/install.md "Prometheus metrics"): three pion participants call in a room
// with mesh_max 2, so it switches to the SFU; one reports E2EE health; a
// wrong password is tried. Then the metrics listener, scraped with its
// token and parsed with the Prometheus text parser, has every expected
// series with plausible values.
func TestMetricsAfterACall(t *testing.T) {
	httpAddr, metricsAddr, srv := startOps(t, func(c *config.Config) {
		c.MeshMax = 2
		c.Metrics.Token = metricsToken
		c.TURN.Listen = "127.0.0.1:0"
		c.TURN.PublicIP = "127.0.0.1"
		c.TURN.AllowPeers = []string{"127.0.0.0/8"}
		c.Access.RoomPasswords = []string{"locked=" + accessHash(t, "pw")}
	})
	if _, code := scrape(t, metricsAddr, ""); code != http.StatusUnauthorized {
		t.Fatalf("scrape without the token: %d, want 401", code)
	}
	wsURL := "ws://" + httpAddr + "/ws"
	wantCode(t, "wrong password", rawJoin(t, wsURL, map[string]any{"room": "locked", "password": "nope"}), "bad-password")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	logs := &testlog.Buffer{}
	var peers []*pionpeer.Peer
	t.Cleanup(func() {
		for _, p := range peers {
			p.Close()
		}
		if t.Failed() {
			t.Logf("participant logs:\n%s", logs.String())
		}
	})
	for _, name := range []string{"A", "B", "C"} {
		p, err := pionpeer.Join(ctx, pionpeer.Config{
			URL: wsURL, Room: "metrics", Name: name,
			VideoBitrate: meshVideoBitrate, FrameRate: sfuFrameRate, AudioPacketTime: sfuAudioPacketTime,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("who", name),
		})
		if err != nil {
			t.Fatalf("join %s: %v", name, err)
		}
		peers = append(peers, p)
	}
	meshPoll(t, 60*time.Second, func() string {
		if m := wrongMode(peers, "sfu"); m != "" {
			return m
		}
		return missingVia(peers, pionpeer.PathSFU, nil)
	})
	if err := peers[0].Signaling().Send(map[string]any{"type": "stats", "decryptFailures": 3, "decryptedFrames": 400, "switchMs": 250}); err != nil {
		t.Fatal(err)
	}

	// Scrape until the report has been counted (it travels over the
	// WebSocket), then check everything on that one page.
	var fams map[string]*dto.MetricFamily
	meshPoll(t, 15*time.Second, func() string {
		fams, _ = scrape(t, metricsAddr, metricsToken)
		if v, _ := sample(fams, "parley_e2ee_decrypt_failures_total"); v != 3 {
			return fmt.Sprintf("parley_e2ee_decrypt_failures_total = %v, want 3", v)
		}
		return ""
	})
	// One page is not a snapshot: the registry gathers its collectors one
	// by one, so that page may have read the message counter just before
	// the report was counted and the failure counter just after. Everything
	// checked below happened before this second scrape began.
	fams, _ = scrape(t, metricsAddr, metricsToken)
	for _, c := range []struct {
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{"parley_rooms", []string{"mode", "sfu"}, eq(1), "1"},
		{"parley_rooms", []string{"mode", "mesh"}, eq(0), "0"},
		{"parley_participants", []string{"mode", "sfu"}, eq(3), "3"},
		{"parley_joins_total", nil, eq(3), "3"},
		{"parley_join_refusals_total", []string{"code", "bad-password"}, eq(1), "1"},
		{"parley_mode_switches_total", []string{"from", "mesh", "to", "sfu"}, eq(1), "1"},
		{"parley_mode_switch_duration_seconds", nil, eq(1), "1 observation"},
		{"parley_websocket_messages_total", []string{"type", "join"}, eq(4), "4"},
		{"parley_websocket_messages_total", []string{"type", "signal"}, gt(3), "> 3"},
		{"parley_websocket_messages_total", []string{"type", "stats"}, eq(1), "1"},
		{"parley_websocket_errors_total", []string{"code", "bad-password"}, eq(1), "1"},
		{"parley_e2ee_decrypted_frames_total", nil, eq(400), "400"},
		{"parley_e2ee_rooms_with_decrypt_failures", nil, eq(1), "1"},
		{"parley_sfu_sessions", nil, eq(3), "3"},
		{"parley_sfu_tracks", nil, eq(6), "6"},
		{"parley_sfu_forwarded_packets_total", nil, gt(50), "> 50"},
		{"parley_sfu_forwarded_bytes_total", nil, gt(5000), "> 5000"},
		{"parley_sfu_dropped_packets_total", nil, ge(0), "present"},
		{"parley_sfu_nacks_served_total", nil, ge(0), "present"},
		{"parley_sfu_nacks_refused_total", nil, ge(0), "present"},
		{"parley_sfu_plis_sent_total", nil, ge(0), "present"},
		{"parley_sfu_dtls_handshakes_total", []string{"profile", "aes_gcm"}, ge(3), ">= 3"},
		{"parley_turn_allocations", nil, ge(0), "present"},
		{"parley_turn_allocations_total", nil, ge(0), "present"},
		{"parley_turn_relayed_bytes_total", []string{"direction", "to_peer"}, ge(0), "present"},
		{"parley_turn_allocation_refusals_total", []string{"reason", "credential"}, ge(0), "present"},
		{"parley_build_info", []string{"version", "v0.0.0-test"}, eq(1), "1"},
		{"go_goroutines", nil, gt(0), "> 0"},
	} {
		v, ok := sample(fams, c.name, c.labels...)
		if !ok || !c.ok(v) {
			t.Errorf("%s%v = %v (present: %v), want %s", c.name, c.labels, v, ok, c.want)
		}
	}
	if got := srv.SFU().Stats().ForwardedPackets; got == 0 {
		t.Error("the SFU forwarded nothing")
	}
}

// TestReadyzTURNSelfCheck: /readyz allocates on the embedded TURN server
// (visible in its counters) and says ready; /healthz stays cheap.
func TestReadyzTURNSelfCheck(t *testing.T) {
	httpAddr, metricsAddr, _ := startOps(t, func(c *config.Config) {
		c.TURN.Listen = "127.0.0.1:0"
		c.TURN.PublicIP = "127.0.0.1"
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := (&http.Client{Timeout: 15 * time.Second}).Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	fams, code := scrape(t, metricsAddr, "")
	if code != http.StatusOK {
		t.Fatalf("scrape without a configured token: %d", code)
	}
	if v, _ := sample(fams, "parley_turn_allocations_total"); v < 1 {
		t.Errorf("parley_turn_allocations_total = %v: the self-check did not allocate", v)
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(min float64) func(float64) bool  { return func(v float64) bool { return v > min } }
func ge(min float64) func(float64) bool  { return func(v float64) bool { return v >= min } }
