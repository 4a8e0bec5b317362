// Package metrics exports Parley's state to Prometheus: signaling events
// (through signaling.Observer, so signaling imports no metrics library),
// room and participant gauges, and the SFU's and TURN server's own
// counters read at scrape time. Names follow the Prometheus naming guide:
// parley_ prefix, base units, _total on counters. docs/install.md lists
// them.
package metrics

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/sfu"
	"github.com/parleyhq/parley/signaling"
	"github.com/parleyhq/parley/turn"
)

// Sources are read at every scrape. Nil functions export nothing.
type Sources struct {
	Rooms func() []signaling.RoomInfo
	SFU   func() sfu.Stats
	TURN  func() turn.Stats
	// Version is exported as parley_build_info{version}.
	Version string
}

// Metrics is the process's registry and the signaling counters. It
// implements signaling.Observer; every method is a few atomic adds.
type Metrics struct {
	reg *prometheus.Registry

	joins           prometheus.Counter
	refusals        *prometheus.CounterVec
	messages        *prometheus.CounterVec
	errors          *prometheus.CounterVec
	switches        *prometheus.CounterVec
	switchDuration  prometheus.Histogram
	decryptFailures prometheus.Counter
	decryptedFrames prometheus.Counter
	// failures before the sender's key: normal, kept out of the alarm
	decryptBeforeKey prometheus.Counter
}

var _ signaling.Observer = (*Metrics)(nil)

// New builds the registry with Go runtime and process collectors, the
// signaling counters and collectors over src.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) } // names are constants: a clash is a bug
	m := &Metrics{
		reg: reg,
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_joins_total", Help: "Joins admitted into a room.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_join_refusals_total", Help: "Joins refused, by error code (room-full, bad-password, ...).",
		}, []string{"code"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_websocket_messages_total", Help: "Client WebSocket messages received, by type (unknown for anything else).",
		}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_websocket_errors_total", Help: "error messages sent to clients, by code.",
		}, []string{"code"}),
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_mode_switches_total", Help: "Rooms switching media path, by from and to mode.",
		}, []string{"from", "to"}),
		switchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_mode_switch_duration_seconds",
			Help: "Client-reported time from a mode message until every tile showed the new path.",
			// The goal is no tile frozen over 300 ms; buckets around it.
			Buckets: []float64{0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10},
		}),
		decryptFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_e2ee_decrypt_failures_total", Help: "Received media frames that clients reported failing E2EE decryption although the sender's key had arrived (an alarm).",
		}),
		decryptedFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_e2ee_decrypted_frames_total", Help: "Received media frames that clients reported decrypting.",
		}),
		decryptBeforeKey: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_e2ee_failures_before_key_total", Help: "Received media frames that clients could not decrypt because the sender's key had not arrived yet (normal when a call starts or someone joins).",
		}),
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f(m.joins)
	f(m.refusals)
	f(m.messages)
	f(m.errors)
	f(m.switches)
	f(m.switchDuration)
	f(m.decryptFailures)
	f(m.decryptedFrames)
	f(m.decryptBeforeKey)
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": src.Version},
	}, func() float64 { return 1 }))
	// Label values known in advance start at zero, so rate() works from
	// the first scrape and dashboards show the series before any event.
	for _, mode := range []signaling.Mode{signaling.ModeMesh, signaling.ModeSFU} {
		other := signaling.ModeSFU
		if mode == signaling.ModeSFU {
			other = signaling.ModeMesh
		}
		m.switches.WithLabelValues(mode.String(), other.String())
	}
	for _, c := range []signaling.Code{signaling.CodeRoomFull, signaling.CodePasswordRequired, signaling.CodeBadPassword, signaling.CodeBadToken} {
		m.refusals.WithLabelValues(string(c))
	}
	if src.Rooms != nil {
		f(&roomCollector{rooms: src.Rooms})
	}
	if src.SFU != nil {
		f(&sfuCollector{stats: src.SFU})
	}
	if src.TURN != nil {
		f(&turnCollector{stats: src.TURN})
	}
	return m
}

// Registry is the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format. With a token,
// scrapes must send Authorization: Bearer <token> (Prometheus:
// authorization.credentials_file in the scrape config).
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley-metrics"`)
			http.Error(w, "a valid metrics token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Message implements signaling.Observer.
func (m *Metrics) Message(typ string) { m.messages.WithLabelValues(typ).Inc() }

// Error implements signaling.Observer.
func (m *Metrics) Error(code signaling.Code) { m.errors.WithLabelValues(string(code)).Inc() }

// Joined implements signaling.Observer.
func (m *Metrics) Joined() { m.joins.Inc() }

// JoinRefused implements signaling.Observer.
func (m *Metrics) JoinRefused(code signaling.Code) { m.refusals.WithLabelValues(string(code)).Inc() }

// ModeSwitched implements signaling.Observer.
func (m *Metrics) ModeSwitched(from, to signaling.Mode) {
	m.switches.WithLabelValues(from.String(), to.String()).Inc()
}

// ClientStats implements signaling.Observer.
func (m *Metrics) ClientStats(s signaling.ClientStats) {
	m.decryptFailures.Add(float64(s.DecryptFailures))
	m.decryptedFrames.Add(float64(s.DecryptedFrames))
	m.decryptBeforeKey.Add(float64(s.DecryptFailuresBeforeKey))
	if s.SwitchMillis > 0 {
		m.switchDuration.Observe(float64(s.SwitchMillis) / 1000)
	}
}
