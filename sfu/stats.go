package sfu

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of the SFU's counters, for /metrics and the load
// tool. Counters only grow; gauges (Sessions, Tracks, Subscriptions) go up
// and down.
type Stats struct {
	Sessions        int64 // participants attached now
	Tracks          int64 // publishers' tracks being read now
	Subscriptions   int64 // forwarded tracks bound to a subscriber now
	PausedTracks    int64 // forwarded video tracks sending nothing now: the subscriber cannot see them (`view`)
	PausedBandwidth int64 // forwarded video tracks sending nothing now: the subscriber's downlink cannot carry even their lowest layer (alloc.go)

	ForwardedPackets uint64 // RTP packets written to subscribers
	ForwardedBytes   uint64 // their payload bytes (RTP header excluded)
	DroppedPackets   uint64 // packets not forwarded because a subscriber's queue was full
	NACKsServed      uint64 // packets retransmitted from the packet cache on a subscriber's NACK
	NACKsRefused     uint64 // NACKed packets not retransmitted: subscriber congested, packet too old, or resent often enough already
	PLIsSent         uint64 // key-frame requests sent to publishers (after throttling)
	LayerSwitches    uint64 // a subscriber moved from one simulcast layer to another (at a key frame)
	ProbePackets     uint64 // padding packets sent to probe a subscriber's downlink (probe.go)

	DataMessages uint64 // data-channel messages delivered to a recipient
	DataDropped  uint64 // data-channel messages not delivered (back-pressure, channel not open)

	// DTLS handshakes by the SRTP profile the SFU chose: AES-GCM costs a
	// sixth of AES-CM + HMAC-SHA1 per packet, so SRTPOther should stay 0.
	SRTPGCM   uint64
	SRTPOther uint64

	// Downlinks are the downlink estimates (bits/s) of the subscribers the
	// SFU adapts to now (bwe.go), in no order and with no identity: for
	// a histogram.
	Downlinks []int64
}

// counters is where Stats come from. Fields touched once per forwarded
// packet are not here: they live in each subscriber's writer (writerStats),
// so that no cache line is shared between the goroutines that forward; the
// rare events are global atomics.
type counters struct {
	sessions, tracks, subscriptions atomic.Int64
	paused, pausedBW                atomic.Int64
	none                            atomic.Int64 // pausedGauge's sink for tracks that are not paused

	dropped       atomic.Uint64
	nacksServed   atomic.Uint64
	nacksRefused  atomic.Uint64
	plisSent      atomic.Uint64
	layerSwitches atomic.Uint64
	probePackets  atomic.Uint64
	dataMsgs      atomic.Uint64
	dataDropped   atomic.Uint64
	srtpGCM       atomic.Uint64
	srtpOther     atomic.Uint64
}

// writerStats are one subscriber's forwarding counters, written only by its
// writer goroutine and read by Stats.
type writerStats struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
	_       [48]byte // keep neighbours off this cache line
}

func (w *writerStats) addTo(dst *writerStats) {
	dst.packets.Add(w.packets.Load())
	dst.bytes.Add(w.bytes.Load())
}

// Stats returns the current counters. It is cheap (a few atomic loads per
// session) and safe to call at any time, also after Close.
func (s *Server) Stats() Stats {
	st := Stats{
		Sessions:        s.ctr.sessions.Load(),
		Tracks:          s.ctr.tracks.Load(),
		Subscriptions:   s.ctr.subscriptions.Load(),
		PausedTracks:    s.ctr.paused.Load(),
		PausedBandwidth: s.ctr.pausedBW.Load(),
		DroppedPackets:  s.ctr.dropped.Load(),
		NACKsServed:     s.ctr.nacksServed.Load(),
		NACKsRefused:    s.ctr.nacksRefused.Load(),
		PLIsSent:        s.ctr.plisSent.Load(),
		LayerSwitches:   s.ctr.layerSwitches.Load(),
		ProbePackets:    s.ctr.probePackets.Load(),
		DataMessages:    s.ctr.dataMsgs.Load(),
		DataDropped:     s.ctr.dataDropped.Load(),
		SRTPGCM:         s.ctr.srtpGCM.Load(),
		SRTPOther:       s.ctr.srtpOther.Load(),
	}
	w := s.live.sum(&st.Downlinks)
	st.ForwardedPackets = w.packets.Load()
	st.ForwardedBytes = w.bytes.Load()
	return st
}

// sessionSet is every session not yet retired, with the writer counters of
// those that were: what Stats sums and Close closes. Its lock is a leaf,
// held only to change or walk the set, never across a pion call or a
// callback, so Stats (every /metrics scrape) never waits behind an Attach
// or a stalled pion call: Server.mu used to guard the set, and a scrape
// waited for whatever Attach did under it.
type sessionSet struct {
	mu      sync.Mutex
	all     map[*Session]struct{}
	retired writerStats // counters of retired sessions, moved in under mu: no double count, no dip
}

func (set *sessionSet) add(ss *Session) {
	set.mu.Lock()
	defer set.mu.Unlock()
	set.all[ss] = struct{}{}
}

// retire removes ss and keeps its counters; it reports whether ss was in
// the set (a session is retired once).
func (set *sessionSet) retire(ss *Session) bool {
	set.mu.Lock()
	defer set.mu.Unlock()
	if _, ok := set.all[ss]; !ok {
		return false
	}
	delete(set.all, ss)
	ss.wstats.addTo(&set.retired)
	return true
}

// list returns the sessions in the set now.
func (set *sessionSet) list() []*Session {
	set.mu.Lock()
	defer set.mu.Unlock()
	return slices.Collect(maps.Keys(set.all))
}

// sum adds up every session's writer counters, retired ones included, and
// appends the live sessions' downlink estimates to downlinks.
func (set *sessionSet) sum(downlinks *[]int64) *writerStats {
	w := new(writerStats)
	set.mu.Lock()
	defer set.mu.Unlock()
	set.retired.addTo(w)
	for ss := range set.all {
		ss.wstats.addTo(w)
		if e := ss.dl.last.Load(); e > 0 {
			*downlinks = append(*downlinks, e)
		}
	}
	return w
}

// pausedGauge is the gauge a bound video track with target t counts in:
// paused by its view, paused for bandwidth, or none.
func (c *counters) pausedGauge(t int32, bandwidth bool) *atomic.Int64 {
	switch {
	case t >= 0:
		return &c.none
	case bandwidth:
		return &c.pausedBW
	}
	return &c.paused
}
