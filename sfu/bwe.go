package sfu

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/pionlog"
)

// Downlink bandwidth estimation per subscriber. The SFU writes a
// transport-wide sequence number on every packet it sends (the transport-cc
// header extension), the client answers with transport-cc feedback (when
// each packet arrived), and pion/interceptor's Google Congestion Control
// (pkg/gcc, wired in by pkg/cc) turns that feedback into a target bitrate
// for the whole connection: delay-based (queues building up along the
// path) and loss-based. The allocator (alloc.go) spends that estimate.
//
// gcc has no probing of its own: its estimate grows by at most 8 % a
// second, and never above 1.5× the rate it saw acknowledged. So when a
// subscriber is held below what its view asks for, the SFU pads what it
// sends up to the estimate (probe.go), so that the climb does not stall.

const (
	// initialEstimate is the downlink assumed when feedback starts: 1
	// Mbit/s, what a narrow link (hotel Wi-Fi, a phone's weak signal)
	// still carries, so that a subscriber starts with every tile on
	// screen and sharpens them as probing shows more fits (a few seconds
	// on a wide link: gcc takes 1.5× what it sees acknowledged). Starting
	// high instead (10 Mbit/s was tried) sent a 1.5 Mbit/s link every
	// tile's wanted layer at once: it dropped packets, gcc fell to a
	// sixth of the link, and tiles froze for up to 1.9 s on the way down
	// (TestBrowserConstrainedDownlink). mediasoup starts at 600 kbit/s
	// for the same reason.
	initialEstimate = 1_000_000

	// minEstimate and maxEstimate bound gcc's target. Below 50 kbit/s
	// nothing but audio fits anyway; above 50 Mbit/s no room of Parley's
	// sends more, and the bound keeps a runaway estimate meaningless.
	minEstimate = 50_000
	maxEstimate = 50_000_000
)

// estimators hands each new PeerConnection's bandwidth estimator to the
// session it belongs to. pion builds the interceptors inside
// NewPeerConnection and tells the PeerConnection's id; the session picks
// its estimator up by that id right after.
type estimators struct {
	mu      sync.Mutex
	pending map[string]cc.BandwidthEstimator
}

func (e *estimators) put(id string, est cc.BandwidthEstimator) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending == nil {
		e.pending = map[string]cc.BandwidthEstimator{}
	}
	e.pending[id] = est
}

// take returns and forgets the estimator of PeerConnection id, nil if none.
func (e *estimators) take(id string) cc.BandwidthEstimator {
	e.mu.Lock()
	defer e.mu.Unlock()
	est := e.pending[id]
	delete(e.pending, id)
	return est
}

// addBWEInterceptors registers the congestion controller and, after it, the
// transport-wide sequence-number writer. Order matters: pion calls the
// interceptor registered last first on the way out, so the writer numbers
// a packet before gcc records it as sent. gcc's own pacer is replaced by
// the no-op one: the SFU's writer already sends each packet as it comes,
// and the leaky-bucket pacer would copy and delay every packet.
func addBWEInterceptors(reg *interceptor.Registry, est *estimators, log pionlog.Factory) error {
	f, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(initialEstimate),
			gcc.SendSideBWEMinBitrate(minEstimate),
			gcc.SendSideBWEMaxBitrate(maxEstimate),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
			gcc.WithLoggerFactory(log),
		)
	})
	if err != nil {
		return fmt.Errorf("sfu: congestion controller: %w", err)
	}
	f.OnNewPeerConnection(est.put)
	reg.Add(f)
	seq, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return fmt.Errorf("sfu: transport-cc sequence numbers: %w", err)
	}
	reg.Add(seq)
	reg.Add(reuseAttributesFactory{})
	return nil
}

// reuseAttributesFactory builds reuseAttributes, registered last so that
// it is the first interceptor a forwarded packet meets.
type reuseAttributesFactory struct{}

func (reuseAttributesFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &reuseAttributes{}, nil
}

// reuseAttributes gives every packet of one forwarded stream the same
// Attributes map. pion's TrackLocalWriter passes none, and gcc then makes
// a map per packet to record one constant (the transport-cc extension id):
// ≈180 of the ≈300 bytes gcc allocated per forwarded packet per
// subscriber. Safe because one goroutine writes each stream (the
// subscriber's writer, Session.writeLoop) and no interceptor keeps the map
// beyond the call.
type reuseAttributes struct{ interceptor.NoOp }

func (*reuseAttributes) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	attrs := interceptor.Attributes{}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if a == nil {
			a = attrs
		}
		return w.Write(h, payload, a)
	})
}

// downlink is one subscriber's estimate as the allocator sees it.
//
// Ownership: est is set once by newSession; feedback is set by the RTCP
// readers when transport-cc feedback arrives; the rest is owned by the
// room's loop (alloc.go, probe.go).
type downlink struct {
	est      cc.BandwidthEstimator // nil: adaptation off
	feedback atomic.Bool           // the client sent transport-cc feedback: the estimate means something
	last     atomic.Int64          // the estimate the allocator last used, bits/s; 0 before (admin)

	// Room loop only.
	prev       int   // the estimate at the previous tick
	droppedAt  int64 // Server.now() when the estimate last fell: no probing right after
	probeWait  int64 // ns without probing after such a fall (probe.go fell)
	probedAt   int64 // when the allocation last gave probe credit
	changedAt  int64 // when the allocation last went up: no upgrade before allocHold
	pausedSent string
	sentPaused bool
}

// estimate is the subscriber's downlink in bits/s, and false when the SFU
// does not adapt to it: adaptation is off, or the client never sent
// transport-cc feedback (then the estimate would be gcc's initial guess,
// which must not limit a client whose link is unknown).
func (dl *downlink) estimate() (int, bool) {
	if dl.est == nil || !dl.feedback.Load() {
		return 0, false
	}
	return dl.est.GetTargetBitrate(), true
}

// lossFree says gcc's average loss is below the 2 % at which gcc itself
// stops raising its loss-based estimate: padding on a link that already
// loses would only add to the loss (probe.go).
func (dl *downlink) lossFree() bool {
	if dl.est == nil {
		return false
	}
	loss, ok := dl.est.GetStats()["averageLoss"].(float64)
	return ok && loss < probeMaxLoss
}
