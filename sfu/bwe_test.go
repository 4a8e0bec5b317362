package sfu

import (
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
)

// downLimiter shapes what a test client receives like a narrow link: a
// token bucket of rate bits/s with a queue of limiterQueue (a packet that
// would wait longer is dropped, as a router's tail drop does). It is a pion
// interceptor registered before the transport-cc recorder, so the feedback
// the SFU gets tells the shaped arrival times and the losses. Each stream
// has a goroutine that takes packets off pion as they arrive (their
// arrival at the link) and queues them with their departure time; the
// stream's reader gets each one at that time.
type downLimiter struct {
	interceptor.NoOp
	rate atomic.Int64 // bits/s; 0: not shaped

	mu      sync.Mutex
	free    time.Time // when the link has sent everything admitted so far
	dropped int
}

// limiterQueue is the link's queue, in time: a home router's buffer.
const limiterQueue = 150 * time.Millisecond

// limiterOverhead is what a packet costs on the link beyond what pion
// hands over (IP, UDP, SRTP tag).
const limiterOverhead = 48

func newDownLimiter(rate int) *downLimiter {
	l := &downLimiter{}
	l.rate.Store(int64(rate))
	return l
}

// NewInterceptor implements interceptor.Factory: one shaper for the whole
// connection (all streams share the link).
func (l *downLimiter) NewInterceptor(string) (interceptor.Interceptor, error) { return l, nil }

// shaped is one packet on the link.
type shaped struct {
	b      []byte
	a      interceptor.Attributes
	depart time.Time
	err    error
}

// BindRemoteStream shapes every incoming RTP stream.
func (l *downLimiter) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	q := make(chan shaped, 4096)
	go func() {
		for {
			buf := make([]byte, 1500)
			n, a, err := r.Read(buf, nil)
			if err != nil {
				select {
				case q <- shaped{err: err}:
				default: // the reader is gone: EOF from the close will do
				}
				close(q)
				return
			}
			if depart, ok := l.admit(n + limiterOverhead); ok {
				select {
				case q <- shaped{b: buf[:n], a: a, depart: depart}:
				default: // the reader is gone or stuck: a full queue drops
				}
			}
		}
	}()
	return interceptor.RTPReaderFunc(func(b []byte, _ interceptor.Attributes) (int, interceptor.Attributes, error) {
		p, ok := <-q
		if !ok {
			return 0, nil, io.EOF
		}
		if p.err != nil {
			return 0, nil, p.err
		}
		time.Sleep(time.Until(p.depart))
		return copy(b, p.b), p.a, nil
	})
}

// Close implements interceptor.Interceptor (the shaper outlives the
// connection).
func (l *downLimiter) Close() error { return nil }

// admit puts a packet of size bytes arriving now on the link: when it
// leaves, or false when the queue is full.
func (l *downLimiter) admit(size int) (time.Time, bool) {
	now := time.Now()
	rate := l.rate.Load()
	if rate <= 0 {
		return now, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free.Before(now) {
		l.free = now
	}
	if l.free.Sub(now) > limiterQueue {
		l.dropped++
		return time.Time{}, false
	}
	l.free = l.free.Add(time.Duration(int64(size) * 8 * int64(time.Second) / rate))
	return l.free, true
}

// nonPadding counts the sequence numbers in [from, to) of peer's video
// that were not probe padding.
func (c *testClient) nonPadding(peer string, from, to uint16) int {
	_, r := c.trackOf(peer, "video")
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for s := from; s != to; s++ {
		if r == nil || !r.padSeqs[s] {
			n++
		}
	}
	return n
}

// currentLayer is the layer of the newest video packets from peer, -1
// when they are not all of one layer.
func (c *testClient) currentLayer(peer string) int {
	log := c.videoLog(peer)
	n := len(log)
	if n < 3 || log[n-1].layer != log[n-2].layer || log[n-2].layer != log[n-3].layer {
		return -1
	}
	return log[n-1].layer
}

// bweFrameBytes makes the test publishers' layers cost ≈120, 240 and 370
// kbit/s (1, 2 and 3 packets a frame at 15 fps), so that video, not the
// tests' ≈56 kbit/s of audio, decides what fits.
const bweFrameBytes = 1000

// TestBandwidthLowersAndRecovers: a subscriber whose downlink narrows
// ends on a lower layer than its view asks for, and gets the top layer
// back once the link is wide again (probing raises gcc's estimate).
func TestBandwidthLowersAndRecovers(t *testing.T) {
	s := newTestServer(t)
	join(t, s, "r", "pub", clientOptions{publish: true, simulcast: true, frameBytes: bweFrameBytes})
	viewer := join(t, s, "r", "viewer", clientOptions{record: true, downlink: -1})
	viewer.limiter.rate.Store(0)
	waitFor(t, 10*time.Second, "the viewer receives video", func() bool { return viewer.packetsFrom("pub", "video") > 10 })
	viewer.view("pub", 1280, 720, true)
	expectLayer(t, viewer, "pub", 2, 10*time.Second)
	waitFor(t, 5*time.Second, "transport-cc feedback from the viewer", viewer.ss.dl.feedback.Load)

	viewer.limiter.rate.Store(300_000)
	waitFor(t, 20*time.Second, "an estimate near the link and a layer below the top", func() bool {
		l := viewer.currentLayer("pub")
		return l >= 0 && l < 2 && viewer.ss.dl.last.Load() <= 600_000
	})
	t.Logf("estimate on a 300 kbit/s link: %d bit/s, layer %d", viewer.ss.dl.last.Load(), viewer.currentLayer("pub"))

	viewer.limiter.rate.Store(0)
	expectLayer(t, viewer, "pub", 2, 30*time.Second)
	t.Logf("estimate after the limit went: %d bit/s; probe packets %d", viewer.ss.dl.last.Load(), s.Stats().ProbePackets)
	if n := viewer.badPayloads(); n != 0 {
		t.Errorf("%d payloads changed on the way", n)
	}
}

// TestBandwidthPausesLowestPriority: when even the lowest layers do not
// all fit, the lowest-priority tile is paused and listed in `paused`, the
// higher-priority one keeps its video, audio keeps flowing from both; and
// when the link widens the paused tile comes back and `paused` is empty.
func TestBandwidthPausesLowestPriority(t *testing.T) {
	s := newTestServer(t)
	join(t, s, "r", "a", clientOptions{publish: true, simulcast: true, frameBytes: bweFrameBytes})
	join(t, s, "r", "b", clientOptions{publish: true, simulcast: true, frameBytes: bweFrameBytes})
	viewer := join(t, s, "r", "viewer", clientOptions{record: true, downlink: -1})
	viewer.limiter.rate.Store(0)
	waitFor(t, 10*time.Second, "video from both", func() bool {
		return viewer.packetsFrom("a", "video") > 10 && viewer.packetsFrom("b", "video") > 10
	})
	ta, _ := viewer.trackOf("a", "video")
	tb, _ := viewer.trackOf("b", "video")
	viewer.signal(map[string]any{"view": []viewItem{
		{Track: ta.Track, Width: 320, Height: 180, Visible: true, Priority: 100}, // the speaker
		{Track: tb.Track, Width: 320, Height: 180, Visible: true, Priority: 10},
	}})
	waitFor(t, 5*time.Second, "transport-cc feedback from the viewer", viewer.ss.dl.feedback.Load)

	// Two audio streams (≈110 kbit/s) and one lowest layer (≈120) fit,
	// two lowest layers do not.
	viewer.limiter.rate.Store(330_000)
	waitFor(t, 30*time.Second, "b's video paused for bandwidth", func() bool {
		viewer.mu.Lock()
		defer viewer.mu.Unlock()
		n := len(viewer.pausedMsgs)
		return n > 0 && slices.Equal(viewer.pausedMsgs[n-1], []pausedItem{{Track: tb.Track, Reason: "bandwidth"}})
	})
	t.Logf("estimate: %d bit/s", viewer.ss.dl.last.Load())
	time.Sleep(500 * time.Millisecond) // what was queued drains
	va, vb := viewer.packetsFrom("a", "video"), viewer.packetsFrom("b", "video")
	aa, ab := viewer.packetsFrom("a", "audio"), viewer.packetsFrom("b", "audio")
	time.Sleep(2 * time.Second)
	if d := viewer.packetsFrom("b", "video") - vb; d > 0 && viewer.pausedNow(tb.Track) {
		t.Errorf("b's video is paused, yet %d packets of it arrived in 2 s", d)
	}
	if d := viewer.packetsFrom("a", "video") - va; d < 10 {
		t.Errorf("the speaker's video: %d packets in 2 s, want it flowing", d)
	}
	for name, before := range map[string]int{"a": aa, "b": ab} {
		if d := viewer.packetsFrom(name, "audio") - before; d < 50 {
			t.Errorf("%s's audio: %d packets in 2 s while video was paused, want ≈100", name, d)
		}
	}
	if st := s.Stats(); st.PausedBandwidth < 1 {
		t.Errorf("PausedBandwidth = %d, want ≥ 1", st.PausedBandwidth)
	}

	viewer.limiter.rate.Store(0)
	start, last := time.Now(), int64(0)
	waitFor(t, 60*time.Second, "an empty `paused`", func() bool {
		if e := viewer.ss.dl.last.Load(); e != last {
			t.Logf("%v: estimate %d", time.Since(start).Round(100*time.Millisecond), e)
			last = e
		}
		viewer.mu.Lock()
		defer viewer.mu.Unlock()
		n := len(viewer.pausedMsgs)
		return n > 0 && len(viewer.pausedMsgs[n-1]) == 0
	})
	expectLayer(t, viewer, "b", 0, 5*time.Second)
}

// pausedNow says whether the latest `paused` lists track.
func (c *testClient) pausedNow(track string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.pausedMsgs)
	return n > 0 && slices.ContainsFunc(c.pausedMsgs[n-1], func(p pausedItem) bool { return p.Track == track })
}

// TestAllocate checks the allocation order on fixed rates: lowest layers
// first by priority, then upgrades by priority, pause when nothing fits,
// and the up-margin for a step above the previous allocation.
func TestAllocate(t *testing.T) {
	mk := func(rates [3]int) *upTrack {
		u := &upTrack{nLayers: 3}
		for i, r := range rates {
			l := &upLayer{index: i}
			l.rate.Store(int64(r))
			u.layers[i].Store(l)
		}
		return u
	}
	cam := [3]int{100, 300, 1000}
	items := func(prev ...int32) []allocItem {
		out := make([]allocItem, len(prev))
		for i := range out {
			out[i] = allocItem{d: &downTrack{up: mk(cam)}, want: 2, prev: prev[i]}
		}
		return out
	}
	limits := func(it []allocItem) []int {
		var out []int
		for _, x := range it {
			out = append(out, x.limit)
		}
		return out
	}
	cases := []struct {
		budget   int
		prev     []int32
		canRaise bool
		want     []int
	}{
		{1900, []int32{noLimit, noLimit}, true, []int{2, 1}},    // 1000+300 ≤ 1900, the second cannot reach 1000
		{450, []int32{noLimit, noLimit}, true, []int{1, 0}},     // both lowest (200), then the first one up (200 more)
		{150, []int32{noLimit, noLimit}, true, []int{0, -1}},    // one lowest layer fits: the second is paused
		{220, []int32{0, -1}, true, []int{0, -1}},               // resuming needs 125
		{300, []int32{0, 0}, false, []int{0, 0}},                // no step up within allocHold
		{450, []int32{1, 0}, false, []int{1, 0}},                // but a layer already held stays
		{440, []int32{0, 0}, true, []int{0, 0}},                 // a step of 200 needs 250
		{460, []int32{0, 0}, true, []int{1, 0}},                 // … which 460-200 has
		{80, []int32{noLimit, noLimit}, true, []int{0, -1}},     // nothing fits: the first tile keeps its lowest layer (keepFirst)
		{1000000, []int32{noLimit, noLimit}, true, []int{2, 2}}, // everything fits
		{2000, []int32{2, noLimit}, false, []int{2, 2}},         // noLimit is no step up
	}
	for _, c := range cases {
		it := items(c.prev...)
		left, _ := allocLowest(it, c.budget, true)
		allocRaise(it, left, c.canRaise)
		if got := limits(it); !slices.Equal(got, c.want) {
			t.Errorf("budget %d prev %v raise %v: limits %v, want %v", c.budget, c.prev, c.canRaise, got, c.want)
		}
	}
	// Resumes: one per allocation, none while the link loses.
	it := items(0, -1, -1)
	if _, up := allocLowest(it, 1_000_000, true); !up || !slices.Equal(limits(it), []int{0, 0, -1}) {
		t.Errorf("two paused tiles, room for both: limits %v (resumed %v), want one resumed", limits(it), up)
	}
	it = items(-1, -1)
	if _, up := allocLowest(it, 1_000_000, false); up != true || !slices.Equal(limits(it), []int{0, -1}) {
		t.Errorf("while losing: limits %v, want only the first tile (keepFirst)", limits(it))
	}
}

// TestRewriterPad: padding takes sequence numbers right after the newest
// packet, the source continues after it with unchanged timestamps, a
// NACK for a padding number finds no packet, and one for an earlier
// packet still finds its segment.
func TestRewriterPad(t *testing.T) {
	r := newRewriter(clockRateVideo)
	r.begin(1, 0, 100, 5000, 0)
	s0, ts0, _ := r.rewrite(1, 100, 5000, 0)
	s1, _, _ := r.rewrite(1, 101, 5000, 1)
	if s1 != s0+1 {
		t.Fatalf("seq %d then %d", s0, s1)
	}
	seq, ts, ok := r.pad(5)
	if !ok || seq != s1+1 || ts != ts0 {
		t.Fatalf("pad: %d %d %v, want %d %d", seq, ts, ok, s1+1, ts0)
	}
	if seg := r.lookup(seq + 2); seg != nil && seg.layer >= 0 {
		t.Errorf("a padding number maps to a source segment %+v", seg)
	}
	s2, ts2, ok := r.rewrite(1, 102, 8000, 2)
	if !ok || s2 != s1+6 || ts2 != ts0+3000 {
		t.Errorf("after padding: %d %d %v, want %d %d", s2, ts2, ok, s1+6, ts0+3000)
	}
	if seg := r.lookup(s1); seg == nil || s1-seg.seqOff != 101 {
		t.Errorf("lookup of a packet before the padding: %+v", seg)
	}
	if seg := r.lookup(s2); seg == nil || s2-seg.seqOff != 102 {
		t.Errorf("lookup of a packet after the padding: %+v", seg)
	}
	if _, _, ok := r.rewrite(1, 101, 5000, 3); ok {
		t.Error("a late packet from before the padding was let through onto a used number")
	}
}

// TestReceiving: the admin snapshot lists each forwarded video with its
// layer, and a hidden one as paused by the view.
func TestReceiving(t *testing.T) {
	s := newTestServer(t)
	join(t, s, "r", "pub", clientOptions{publish: true, simulcast: true})
	viewer := join(t, s, "r", "viewer", clientOptions{record: true})
	waitFor(t, 10*time.Second, "the viewer receives video", func() bool { return viewer.packetsFrom("pub", "video") > 10 })
	viewer.view("pub", 320, 180, true)
	expectLayer(t, viewer, "pub", 0, 5*time.Second)
	rc := s.Receiving("r")["viewer"]
	if len(rc.Video) != 1 || rc.Video[0].Peer != "pub" || rc.Video[0].Layer != 0 || rc.Video[0].RID != "q" || rc.Video[0].Layers != 3 || rc.Video[0].Paused != "" {
		t.Errorf("Receiving: %+v, want pub's video on layer 0 (q) of 3", rc)
	}
	if v := rc.Video[0]; v.Temporals != 1 || v.Temporal != 0 {
		t.Errorf("Receiving: temporal layer %d of %d, want 0 of 1 (no temporal layers)", v.Temporal, v.Temporals)
	}
	viewer.view("pub", 320, 180, false)
	waitFor(t, 2*time.Second, "the hidden track shown paused by the view", func() bool {
		rc := s.Receiving("r")["viewer"]
		return len(rc.Video) == 1 && rc.Video[0].Paused == "view" && rc.Video[0].Layer == -1
	})
	if s.Receiving("nope") != nil {
		t.Error("Receiving of an unknown room is not nil")
	}
}

// TestBandwidthAdaptationOff is the positive control: with adaptation off
// the same narrow link leaves the subscriber on the top layer its view
// asks for (and losing packets), with no estimate and no padding.
func TestBandwidthAdaptationOff(t *testing.T) {
	s := newTestServerWith(t, Config{NoBandwidthAdaptation: true})
	join(t, s, "r", "pub", clientOptions{publish: true, simulcast: true, frameBytes: bweFrameBytes})
	viewer := join(t, s, "r", "viewer", clientOptions{record: true, downlink: -1})
	waitFor(t, 10*time.Second, "the viewer receives video", func() bool { return viewer.packetsFrom("pub", "video") > 10 })
	viewer.view("pub", 1280, 720, true)
	expectLayer(t, viewer, "pub", 2, 10*time.Second)
	viewer.limiter.rate.Store(300_000)
	time.Sleep(5 * time.Second)
	if l := viewer.currentLayer("pub"); l != 2 {
		t.Errorf("layer %d with adaptation off, want the top (2) whatever the link", l)
	}
	viewer.limiter.mu.Lock()
	dropped := viewer.limiter.dropped
	viewer.limiter.mu.Unlock()
	if dropped == 0 {
		t.Error("the 300 kbit/s link dropped nothing: the test's link does not constrain")
	}
	if e := viewer.ss.dl.last.Load(); e != 0 || s.Stats().ProbePackets != 0 {
		t.Errorf("estimate %d, %d probe packets with adaptation off", e, s.Stats().ProbePackets)
	}
	t.Logf("link drops with adaptation off: %d packets in 5 s", dropped)
}

// TestProbeBackoff: a fall of the estimate while padding doubles the wait
// before the next padding, up to maxProbeBackoff; a fall with no padding
// before it keeps the wait; after probeQuiet without a fall the wait
// starts again from probeBackoff.
func TestProbeBackoff(t *testing.T) {
	var dl downlink
	now := int64(1e9)
	dl.fell(now)
	if dl.probeWait != int64(probeBackoff) {
		t.Fatalf("first fall, no padding: wait %v, want %v", time.Duration(dl.probeWait), probeBackoff)
	}
	for _, want := range []time.Duration{2 * probeBackoff, 4 * probeBackoff, maxProbeBackoff, maxProbeBackoff} {
		now += dl.probeWait // padding again once the wait is over…
		dl.probedAt = now
		now += int64(speakerInterval) // …and the estimate falls a tick later
		dl.fell(now)
		if dl.probeWait != int64(want) {
			t.Fatalf("fall while padding: wait %v, want %v", time.Duration(dl.probeWait), want)
		}
	}
	now += int64(10 * time.Second) // a fall long after the last padding
	dl.fell(now)
	if dl.probeWait != int64(maxProbeBackoff) {
		t.Errorf("fall without padding: wait %v, want it kept (%v)", time.Duration(dl.probeWait), maxProbeBackoff)
	}
	now += int64(probeQuiet)
	dl.fell(now)
	if dl.probeWait != int64(probeBackoff) {
		t.Errorf("fall after %v without one: wait %v, want %v", probeQuiet, time.Duration(dl.probeWait), probeBackoff)
	}
}
