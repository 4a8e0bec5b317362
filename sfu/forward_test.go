package sfu

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Unit tests of the forwarding path, without a network: an upTrack fanning
// out to downTracks whose pion writer is replaced by a fake.

// fakeWriter stands in for pion's TrackLocalWriter: it marshals the packet
// as pion would (so the header the SFU built is checked and the work is
// realistic) and records it.
type fakeWriter struct {
	buf     [packetBufSize + 64]byte
	n       atomic.Int64
	block   chan struct{} // when non-nil, every write waits on it
	mu      sync.Mutex
	keepAll bool
	all     [][]byte
}

// marshalRTP writes header and payload as one packet, as pion's track
// writer does (rtp.MarshalPacketTo, which did this, is deprecated).
func marshalRTP(buf []byte, h *rtp.Header, payload []byte) (int, error) {
	pkt := rtp.Packet{Header: *h, Payload: payload}
	return pkt.MarshalTo(buf)
}

func (w *fakeWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.block != nil {
		<-w.block
	}
	n, err := marshalRTP(w.buf[:], h, payload)
	if err != nil {
		return 0, err
	}
	if w.keepAll {
		w.mu.Lock()
		w.all = append(w.all, append([]byte(nil), w.buf[:n]...))
		w.mu.Unlock()
	}
	w.n.Add(1)
	return n, nil
}

func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }

// fanout is an upTrack with n subscribers, each with its own writer loop.
type fanout struct {
	srv     *Server
	up      *upTrack
	subs    []*Session
	writers []*fakeWriter
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newFanout(tb testing.TB, n int, kind webrtc.RTPCodecType, mk func(i int) *fakeWriter) *fanout {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{pool: newPacketPool(), epoch: time.Now(), ctx: ctx}
	up := &upTrack{
		srv: srv, kind: kind, clockRate: clockRateVideo, mimeType: webrtc.MimeTypeVP8,
		writeRTCP: func([]rtcp.Packet) error { return nil },
		nLayers:   1,
	}
	for i := range up.kf {
		up.kf[i] = throttle{interval: int64(keyframeInterval)}
	}
	if kind == webrtc.RTPCodecTypeAudio {
		up.clockRate, up.mimeType = clockRateAudio, webrtc.MimeTypeOpus
	}
	up.layers[0].Store(newUpLayer(0, "", nil, kind == webrtc.RTPCodecTypeVideo))
	empty := []*downTrack{}
	up.downs.Store(&empty)
	f := &fanout{srv: srv, up: up, cancel: cancel}
	for i := 0; i < n; i++ {
		sctx, scancel := context.WithCancel(ctx)
		_ = scancel
		ss := &Session{srv: srv, ctx: sctx, cancel: scancel, queue: make(chan fwd, writeQueueLen), views: map[string]viewItem{}}
		ss.connected.Store(true)
		w := mk(i)
		d := newDownTrack(up, ss)
		d.bind.Store(&binding{w: w, ssrc: 1000 + uint32(i), pt: 96})
		up.attach(d)
		f.subs = append(f.subs, ss)
		f.writers = append(f.writers, w)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			ss.writeLoop()
		}()
	}
	tb.Cleanup(f.close)
	return f
}

func (f *fanout) close() {
	f.cancel()
	f.wg.Wait()
	if c := f.up.layer(0).cache; c != nil {
		c.clear()
	}
}

// push feeds one raw packet through the reader's steps (copy as Read does,
// parse, classify, dispatch).
func (f *fanout) push(raw []byte) bool {
	p := f.srv.pool.Get().(*packet)
	p.refs.Store(1)
	n := copy(p.buf[:], raw)
	if !p.parse(n) {
		p.release()
		return false
	}
	p.arrival = f.srv.now()
	if f.up.kind == webrtc.RTPCodecTypeVideo {
		p.classifyVideo()
		f.up.layer(0).noteTemporal(p, n)
		f.up.layer(0).cache.add(p)
	}
	f.up.dispatch(p)
	return true
}

func rawPacket(tb testing.TB, seq uint16, ts uint32, payload []byte) []byte {
	tb.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts, SSRC: 42}, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestNACKAfterSourceChange: a NACK for a number sent for the previous
// source is answered with that source's packet, with the numbers it was
// sent under, not with a packet of the new source that a lookup under the
// new offsets would find.
func TestNACKAfterSourceChange(t *testing.T) {
	f := newFanout(t, 1, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{keepAll: true} })
	packet := func(ssrc uint32, seq uint16, ts uint32, payload ...byte) []byte {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Source A (key frame, then deltas); then source B, whose deltas wait
	// for its key frame; B's numbers 5000+i and A's 1000+i share cache
	// slots only if a lookup is done under the wrong source.
	for i := 0; i < 10; i++ {
		f.push(packet(42, uint16(1000+i), uint32(i*3000), 0x10, byte(min(i, 1)), 'A', byte(i)))
	}
	for i := 0; i < 5; i++ {
		f.push(packet(43, uint16(5000+i), uint32(i*3000), 0x10, 0x01, 'B', byte(i)))
	}
	f.push(packet(43, 5005, 15000, 0x10, 0x00, 'B', 5))
	w := f.writers[0]
	waitFor(t, 2*time.Second, "the writes", func() bool { return w.n.Load() == 11 })
	w.mu.Lock()
	lostA := w.all[7]
	w.mu.Unlock()
	var hdr rtp.Packet
	if err := hdr.Unmarshal(lostA); err != nil {
		t.Fatal(err)
	}
	d := (*f.up.downs.Load())[0]
	d.onNACK(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: hdr.SequenceNumber}}})
	waitFor(t, 2*time.Second, "the retransmission", func() bool { return w.n.Load() == 12 })
	w.mu.Lock()
	again := w.all[11]
	w.mu.Unlock()
	if string(again) != string(lostA) {
		t.Errorf("NACK for %d (source A) answered with\n%x, want\n%x", hdr.SequenceNumber, again, lostA)
	}
}

func TestBlockedSubscriberDoesNotBlockOthers(t *testing.T) {
	block := make(chan struct{})
	f := newFanout(t, 3, webrtc.RTPCodecTypeAudio, func(i int) *fakeWriter {
		if i == 0 {
			return &fakeWriter{block: block} // its network write never returns
		}
		return &fakeWriter{}
	})
	// Registered after newFanout's cleanup, so it runs first: the blocked
	// writer is released before f.close waits for it, even if the test
	// fails half-way.
	t.Cleanup(func() { close(block) })
	const packets = 3 * writeQueueLen
	// Pushed in batches of half a queue, waiting for the healthy
	// subscribers between batches: on a loaded machine their writers may
	// not be scheduled during a tight loop, and then their own queues would
	// overflow, which is not what this test is about.
	const batch = writeQueueLen / 2
	var dispatch time.Duration
	for sent := 0; sent < packets; sent += batch {
		start := time.Now()
		for i := sent; i < sent+batch; i++ {
			if !f.push(rawPacket(t, uint16(i), uint32(i)*960, []byte{0x78, 1, 2, 3})) {
				t.Fatal("parse failed")
			}
		}
		dispatch += time.Since(start)
		want := int64(sent + batch)
		waitFor(t, 10*time.Second, "the healthy subscribers to get every packet", func() bool {
			return f.writers[1].n.Load() == want && f.writers[2].n.Load() == want
		})
	}
	if dispatch > 2*time.Second {
		t.Errorf("dispatching %d packets took %v with one subscriber blocked", packets, dispatch)
	}
	if got := f.srv.ctr.dropped.Load(); got < packets-writeQueueLen-1 {
		t.Errorf("dropped %d packets for the blocked subscriber, want ≥ %d", got, packets-writeQueueLen-1)
	}
}

func TestForwardRewritesHeaderKeepsPayload(t *testing.T) {
	f := newFanout(t, 2, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{keepAll: true} })
	delta := []byte{0x10, 0x01, 9, 9, 9}        // S=1 PID=0, P=1: delta frame start
	key := []byte{0x10, 0x00, 0x9d, 0x01, 0x2a} // S=1 PID=0, P=0: key frame start
	cont := []byte{0x00, 7, 7, 7}               // continuation
	in := [][]byte{delta, cont, key, cont, delta}
	for i, p := range in {
		f.push(rawPacket(t, uint16(65534+i), uint32(1000+i*3000), p))
	}
	waitFor(t, 2*time.Second, "the writes", func() bool {
		return f.writers[0].n.Load() == 3 && f.writers[1].n.Load() == 3
	})
	for wi, w := range f.writers {
		w.mu.Lock()
		var prev *rtp.Packet
		for i, b := range w.all {
			var p rtp.Packet
			if err := p.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			want := in[i+2] // the gate dropped the delta frame and its continuation
			if string(p.Payload) != string(want) {
				t.Errorf("writer %d packet %d: payload %x, want %x", wi, i, p.Payload, want)
			}
			if p.SSRC != 1000+uint32(wi) || p.PayloadType != 96 {
				t.Errorf("writer %d: ssrc %d pt %d, want the subscriber's", wi, p.SSRC, p.PayloadType)
			}
			if prev != nil && (p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+3000) {
				t.Errorf("writer %d: seq/ts %d/%d after %d/%d, want +1/+3000", wi, p.SequenceNumber, p.Timestamp, prev.SequenceNumber, prev.Timestamp)
			}
			prev = &p
		}
		w.mu.Unlock()
	}
}

func TestPacketParsePadding(t *testing.T) {
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 4, SequenceNumber: 1}, Payload: []byte{1, 2, 3}}
	raw, err := pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := newPacketPool().Get().(*packet)
	copy(p.buf[:], raw)
	if !p.parse(len(raw)) || string(p.payload) != "\x01\x02\x03" || p.hdr.PaddingSize != 4 {
		t.Fatalf("parse: ok payload %x padding %d", p.payload, p.hdr.PaddingSize)
	}
	out := make([]byte, 64)
	n, err := marshalRTP(out, &p.hdr, p.payload)
	if err != nil || n != len(raw) || out[n-1] != 4 {
		t.Fatalf("re-marshal: %d bytes (want %d), err %v", n, len(raw), err)
	}
	for _, bad := range [][]byte{
		{0x80},                                  // short
		{0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, // padding bit, no room for it
		{0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},    // padding count 0
		{0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9}, // padding count larger than the payload
	} {
		copy(p.buf[:], bad)
		if p.parse(len(bad)) {
			t.Errorf("parse(%x) accepted a broken packet", bad)
		}
	}
}

func TestRewriterContinuity(t *testing.T) {
	r := newRewriter(clockRateVideo)
	r.firstSeq, r.firstTS = 65530, 4294967000
	type in struct {
		ssrc uint32
		seq  uint16
		ts   uint32
		at   int64
	}
	step := func(x in) (uint16, uint32, bool) { return r.rewrite(x.ssrc, x.seq, x.ts, x.at) }
	if _, _, ok := step(in{1, 100, 5000, 0}); ok {
		t.Fatal("a packet before the first segment was numbered")
	}
	r.begin(1, 0, 100, 5000, 0)
	s0, t0, _ := step(in{1, 100, 5000, 0})
	if s0 != 65530 || t0 != 4294967000 {
		t.Fatalf("first packet → %d/%d, want the random start", s0, t0)
	}
	s1, t1, _ := step(in{1, 101, 8000, 33e6})
	if s1 != s0+1 || t1 != t0+3000 {
		t.Errorf("next packet → %d/%d, want +1/+3000 (wrapping)", s1, t1)
	}
	// Reordered and retransmitted packets keep their own numbers.
	s3, _, _ := step(in{1, 103, 14000, 66e6})
	s2, _, _ := step(in{1, 102, 11000, 70e6})
	if s2 != s0+2 || s3 != s0+3 {
		t.Errorf("reordered → %d, %d, want %d, %d", s2, s3, s0+2, s0+3)
	}
	// A new source (layer B) continues the sequence: +1, and the
	// timestamp moves by the wall-clock time since the newest packet
	// (100 ms = 9000).
	r.begin(2, 1, 40000, 777, 166e6)
	sw, tw, ok := step(in{2, 40000, 777, 166e6})
	if !ok || sw != s3+1 || tw != t0+9000+9000 {
		t.Errorf("source switch → %d/%d ok=%v, want %d/%d", sw, tw, ok, s3+1, t0+9000+9000)
	}
	// A late packet of the old source is dropped, not mis-numbered.
	if _, _, ok := step(in{1, 104, 17000, 170e6}); ok {
		t.Error("late packet of the previous source was forwarded")
	}
	sn, tn, _ := step(in{2, 40001, 3777, 200e6})
	if sn != sw+1 || tn != tw+3000 {
		t.Errorf("after the switch → %d/%d, want %d/%d", sn, tn, sw+1, tw+3000)
	}
	// Back to A (A→B→A): a fresh segment, numbered on from B, and A's
	// packets from before it are dropped.
	r.begin(1, 0, 110, 35000, 233e6)
	sa, ta, ok := step(in{1, 110, 35000, 233e6})
	if !ok || sa != sn+1 || ta != tn+2970 {
		t.Errorf("back to A → %d/%d ok=%v, want %d/%d", sa, ta, ok, sn+1, tn+2970)
	}
	if _, _, ok := step(in{1, 105, 20000, 240e6}); ok {
		t.Error("a packet of A older than the new segment was forwarded")
	}
	if _, _, ok := step(in{2, 40002, 6777, 240e6}); ok {
		t.Error("a late packet of B was forwarded after the switch back")
	}
	// NACK lookups find the segment each number was sent in.
	for _, c := range []struct {
		seq   uint16
		ssrc  uint32
		layer int8
	}{{s1, 1, 0}, {s3, 1, 0}, {sw, 2, 1}, {sn, 2, 1}, {sa, 1, 0}} {
		seg := r.lookup(c.seq)
		if seg == nil || seg.ssrc != c.ssrc || seg.layer != c.layer || c.seq-seg.seqOff == 0 {
			t.Errorf("lookup(%d) = %+v, want source %d layer %d", c.seq, seg, c.ssrc, c.layer)
		}
	}
	if seg := r.lookup(sa + 1); seg != nil {
		t.Errorf("lookup of a number not sent yet = %+v", seg)
	}
	if seg := r.lookup(s1); seg == nil || s1-seg.seqOff != 101 {
		t.Errorf("lookup(%d) maps to source %d, want 101", s1, s1-seg.seqOff)
	}
}

// TestRewriterLongSegment: one source forwarded without a switch for more
// than half the sequence-number space stays forwarded and continuous (a
// segment whose first packet fell 32768 numbers behind dropped everything
// after), and NACK lookups still find recent packets.
func TestRewriterLongSegment(t *testing.T) {
	r := newRewriter(clockRateVideo)
	r.begin(1, 0, 100, 0, 0)
	first, _, _ := r.rewrite(1, 100, 0, 0)
	for i := 1; i < 140000; i++ {
		seq, _, ok := r.rewrite(1, uint16(100+i), uint32(i*3000), int64(i))
		if !ok || seq != first+uint16(i) {
			t.Fatalf("packet %d: %d ok=%v, want %d", i, seq, ok, first+uint16(i))
		}
	}
	for _, age := range []uint16{0, 1, cacheSize} {
		if s := r.lookup(r.maxSeq - age); s == nil || s.ssrc != 1 {
			t.Errorf("lookup %d back: %+v", age, s)
		}
	}
	if s := r.lookup(r.maxSeq - maxSegmentSpan); s != nil {
		t.Errorf("lookup %d back found %+v, want nothing that old", maxSegmentSpan, s)
	}
	// A late packet just behind the newest still maps; one far behind does not.
	if seq, _, ok := r.rewrite(1, r.maxSeq-r.seg().seqOff-4, 0, 0); !ok || seq != r.maxSeq-4 {
		t.Errorf("late packet → %d ok=%v, want %d", seq, ok, r.maxSeq-4)
	}
}

func TestVP8KeyframeStart(t *testing.T) {
	cases := []struct {
		name string
		p    []byte
		want bool
	}{
		{"empty", nil, false},
		{"key, no extension", []byte{0x10, 0x00}, true},
		{"delta", []byte{0x10, 0x01}, false},
		{"not a start (S=0)", []byte{0x00, 0x00}, false},
		{"second partition", []byte{0x11, 0x00}, false},
		{"key, 7-bit picture id", []byte{0x90, 0x80, 0x05, 0x00}, true},
		{"key, 15-bit picture id", []byte{0x90, 0x80, 0x85, 0x01, 0x00}, true},
		{"delta, 15-bit picture id", []byte{0x90, 0x80, 0x85, 0x01, 0x01}, false},
		{"key, all extensions", []byte{0x90, 0xF0, 0x85, 0x01, 0x07, 0x20, 0x00}, true},
		{"truncated after X", []byte{0x90}, false},
		{"truncated picture id", []byte{0x90, 0x80}, false},
		{"truncated before header", []byte{0x90, 0x80, 0x85, 0x01}, false},
	}
	for _, tc := range cases {
		if got := vp8KeyframeStart(tc.p); got != tc.want {
			t.Errorf("%s: vp8KeyframeStart(%x) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestThrottle(t *testing.T) {
	ms := int64(time.Millisecond)
	th := throttle{interval: 500 * ms}
	if fire, _ := th.request(0); !fire {
		t.Fatal("first request must fire")
	}
	fire, wait := th.request(100 * ms)
	if fire || wait != 400*time.Millisecond {
		t.Fatalf("inside the window: fire=%v wait=%v, want a deferral of 400ms", fire, wait)
	}
	if fire, wait := th.request(200 * ms); fire || wait != 0 {
		t.Fatalf("second request inside the window: fire=%v wait=%v, want merged", fire, wait)
	}
	if !th.deferred(500 * ms) {
		t.Fatal("the deferred request must fire at the window's end")
	}
	if fire, _ := th.request(600 * ms); fire {
		t.Fatal("a request 100ms after the deferred one fired")
	}
	// A request that fires on its own before the timer makes the timer a no-op.
	if fire, _ := th.request(1100 * ms); !fire {
		t.Fatal("request after the window must fire")
	}
	if th.deferred(1101 * ms) {
		t.Fatal("the stale timer fired a second request")
	}
}

func TestNextSpeaker(t *testing.T) {
	cases := []struct {
		cur    string
		counts map[string]int
		want   string
	}{
		{"", map[string]int{"a": 0, "b": 0}, ""},
		{"", map[string]int{"a": 20, "b": 3}, "a"},
		{"a", map[string]int{"a": 2, "b": 5}, "a"},   // b too quiet to take over
		{"a", map[string]int{"a": 2, "b": 12}, "b"},  // a stopped, b talks
		{"a", map[string]int{"a": 15, "b": 17}, "a"}, // both talk: margin keeps a
		{"a", map[string]int{"a": 10, "b": 20}, "b"},
		{"gone", map[string]int{"b": 9}, "b"}, // the speaker left
		{"", map[string]int{"b": 10, "a": 10}, "a"},
		{"b", map[string]int{"b": 10, "a": 10}, "b"},
	}
	for _, tc := range cases {
		if got := nextSpeaker(tc.cur, tc.counts); got != tc.want {
			t.Errorf("nextSpeaker(%q, %v) = %q, want %q", tc.cur, tc.counts, got, tc.want)
		}
	}
}

func TestRemoteIPAllowed(t *testing.T) {
	strict, lo := remoteIPAllowed(false), remoteIPAllowed(true)
	for _, tc := range []struct {
		ip            string
		strict, loopb bool
	}{
		{"203.0.113.9", true, true},
		{"192.168.1.20", true, true},
		{"10.1.2.3", true, true},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"169.254.169.254", false, false},
		{"fe80::1", false, false},
		{"0.0.0.0", false, false},
		{"224.0.0.251", false, false},
		{"2001:db8::1", true, true},
	} {
		ip := net.ParseIP(tc.ip)
		if strict(ip) != tc.strict || lo(ip) != tc.loopb {
			t.Errorf("%s: allowed %v / with loopback %v, want %v / %v", tc.ip, strict(ip), lo(ip), tc.strict, tc.loopb)
		}
	}
}

func TestNACKAnsweredFromCache(t *testing.T) {
	f := newFanout(t, 2, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{keepAll: true} })
	key := []byte{0x10, 0x00, 1, 2, 3}
	const n = cacheSize + 10
	for i := 0; i < n; i++ {
		f.push(rawPacket(t, uint16(1000+i), uint32(i*3000), append(key[:2:2], byte(i), byte(i>>8))))
	}
	waitFor(t, 2*time.Second, "the writes", func() bool { return f.writers[0].n.Load() == n && f.writers[1].n.Load() == n })

	w := f.writers[1]
	w.mu.Lock()
	var first, recent rtp.Packet
	_ = first.Unmarshal(w.all[0])    // evicted from the cache by now
	_ = recent.Unmarshal(w.all[n-5]) // still cached
	w.mu.Unlock()
	d := (*f.up.downs.Load())[1]
	d.onNACK(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{
		{PacketID: recent.SequenceNumber},
		{PacketID: first.SequenceNumber},
		{PacketID: recent.SequenceNumber + 100}, // never sent
	}})
	waitFor(t, 2*time.Second, "the retransmission", func() bool { return w.n.Load() == n+1 })
	time.Sleep(50 * time.Millisecond)
	if got := w.n.Load(); got != n+1 {
		t.Fatalf("%d packets written after the NACK, want exactly one retransmission", got-n)
	}
	w.mu.Lock()
	again := w.all[n]
	w.mu.Unlock()
	if string(again) != string(w.all[n-5]) {
		t.Errorf("retransmission differs from the original:\n%x\n%x", again, w.all[n-5])
	}
	if f.writers[0].n.Load() != n {
		t.Error("the other subscriber got the retransmission too")
	}
	if got := f.srv.ctr.nacksServed.Load(); got != 1 {
		t.Errorf("nacksServed = %d, want 1", got)
	}
}

// fakeContext is the TrackLocalContext pion passes to Bind.
type fakeContext struct {
	codecs []webrtc.RTPCodecParameters
	exts   []webrtc.RTPHeaderExtensionParameter
	w      webrtc.TrackLocalWriter
}

func (c *fakeContext) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }
func (c *fakeContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return c.exts
}
func (c *fakeContext) SSRC() webrtc.SSRC                       { return 777 }
func (c *fakeContext) SSRCRetransmission() webrtc.SSRC         { return 0 }
func (c *fakeContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c *fakeContext) WriteStream() webrtc.TrackLocalWriter    { return c.w }
func (c *fakeContext) ID() string                              { return "ctx" }
func (c *fakeContext) RTCPReader() interceptor.RTCPReader      { return nil }

func TestBindMapsCodecAndExtensions(t *testing.T) {
	f := newFanout(t, 0, webrtc.RTPCodecTypeAudio, nil)
	// The publisher negotiated audio-level as id 3 and transport-cc as 5;
	// the subscriber as 20 (needs the two-byte profile) and 7.
	f.up.extensions = []webrtc.RTPHeaderExtensionParameter{{URI: audioLevelURI, ID: 3}, {URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 5}}
	ss := &Session{srv: f.srv, ctx: f.srv.ctx, queue: make(chan fwd, writeQueueLen)}
	ss.connected.Store(true)
	w := &fakeWriter{keepAll: true}
	d := newDownTrack(f.up, ss)
	ctx := &fakeContext{
		codecs: []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "video/VP8"}, PayloadType: 96},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/OPUS", ClockRate: 48000}, PayloadType: 109},
		},
		exts: []webrtc.RTPHeaderExtensionParameter{{URI: audioLevelURI, ID: 20}, {URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 7}},
		w:    w,
	}
	codec, err := d.Bind(ctx)
	if err != nil || codec.PayloadType != 109 {
		t.Fatalf("Bind: codec %+v, err %v; want Opus with PT 109", codec, err)
	}
	if len(*f.up.downs.Load()) != 1 {
		t.Fatal("Bind did not join the fan-out")
	}

	p := f.srv.pool.Get().(*packet)
	p.refs.Store(1)
	hdr := rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 42}
	_ = hdr.SetExtension(3, []byte{0x9e})
	_ = hdr.SetExtension(5, []byte{0, 1})
	raw, _ := (&rtp.Packet{Header: hdr, Payload: []byte{0x78, 1}}).Marshal()
	if !p.parse(copy(p.buf[:], raw)) {
		t.Fatal("parse")
	}
	d.write(p)
	var out rtp.Packet
	if err := out.Unmarshal(w.all[0]); err != nil {
		t.Fatal(err)
	}
	if out.SSRC != 777 || out.PayloadType != 109 {
		t.Errorf("ssrc %d pt %d, want 777 109", out.SSRC, out.PayloadType)
	}
	if out.ExtensionProfile != rtp.ExtensionProfileTwoByte || string(out.GetExtension(20)) != "\x9e" || len(out.Extensions) != 1 {
		t.Errorf("extensions %+v (profile %#x): want only audio-level, as id 20, two-byte profile", out.Extensions, out.ExtensionProfile)
	}
	p.release()
	if err := d.Unbind(ctx); err != nil || len(*f.up.downs.Load()) != 0 {
		t.Errorf("Unbind: %v, fan-out %d", err, len(*f.up.downs.Load()))
	}
	if _, err := d.Bind(&fakeContext{codecs: ctx.codecs[:1], w: w}); err == nil {
		t.Error("Bind without the track's codec succeeded")
	}
}

// TestResendLimits: the same packet is resent to a subscriber at most
// maxResends times, never twice within resendInterval, and not at all once
// it is older than maxResendAge.
func TestResendLimits(t *testing.T) {
	f := newFanout(t, 1, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{} })
	key := []byte{0x10, 0x00, 1, 2, 3}
	const n = 20
	for i := 0; i < n; i++ {
		f.push(rawPacket(t, uint16(1000+i), uint32(i*3000), append(key[:2:2], byte(i))))
	}
	w := f.writers[0]
	waitFor(t, 2*time.Second, "the writes", func() bool { return w.n.Load() == n })
	d := (*f.up.downs.Load())[0]
	sent := func() int64 { return w.n.Load() - n }
	nack := func(seq uint16) {
		d.onNACK(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: seq}}})
	}
	served := func() uint64 { return f.srv.ctr.nacksServed.Load() }
	refused := func() uint64 { return f.srv.ctr.nacksRefused.Load() }
	settle := func(what string, want uint64) {
		t.Helper()
		waitFor(t, 2*time.Second, what, func() bool { return served()+refused() == want })
	}

	// The subscriber's numbers: seq 1000+i went out as firstSeq+i.
	seq := d.rw.firstSeq + 5
	nack(seq)
	nack(seq) // repeated at once: the first copy is on its way
	settle("two NACKs handled", 2)
	if served() != 1 || sent() != 1 {
		t.Fatalf("served %d, wrote %d after two quick NACKs, want 1", served(), sent())
	}
	for i := 2; i <= maxResends; i++ {
		time.Sleep(resendInterval + 10*time.Millisecond)
		nack(seq)
		settle("a later NACK", uint64(i+1))
	}
	if served() != maxResends {
		t.Fatalf("served %d after spaced NACKs, want %d", served(), maxResends)
	}
	f.up.layer(0).ssrc.Store(42) // so that a key-frame request goes out (sendPLI)
	plis := f.srv.ctr.plisSent.Load()
	time.Sleep(resendInterval + 10*time.Millisecond)
	nack(seq)
	settle("one NACK too many", maxResends+2)
	if served() != maxResends || sent() != maxResends {
		t.Fatalf("served %d, wrote %d: a packet was resent more than %d times", served(), sent(), maxResends)
	}
	// The subscriber still lacks it after every retransmission: the SFU
	// asks the publisher for a key frame rather than let it wait for its
	// own timeout; once, however often the NACK comes again.
	waitFor(t, 2*time.Second, "a key-frame request", func() bool { return f.srv.ctr.plisSent.Load() == plis+1 })
	time.Sleep(resendInterval + 10*time.Millisecond)
	nack(seq)
	settle("another NACK too many", maxResends+3)
	time.Sleep(keyframeInterval + 50*time.Millisecond)
	if got := f.srv.ctr.plisSent.Load(); got != plis+1 {
		t.Fatalf("%d key-frame requests for one lost packet, want 1", got-plis)
	}

	// Too old: the packet reached the SFU longer ago than maxResendAge.
	old := f.up.layer(0).cache.get(42, 1010)
	old.arrival -= int64(2 * maxResendAge)
	old.release()
	nack(d.rw.firstSeq + 10)
	settle("a NACK for an old packet", maxResends+4)
	if served() != maxResends {
		t.Fatalf("a packet older than %v was resent", maxResendAge)
	}
}

// TestNACKRefusedWhenCongested: a subscriber whose queue is backed up gets
// no retransmissions, so NACKs cannot add to the backlog that lost the
// packets.
func TestNACKRefusedWhenCongested(t *testing.T) {
	block := make(chan struct{})
	f := newFanout(t, 1, webrtc.RTPCodecTypeVideo, func(int) *fakeWriter { return &fakeWriter{block: block} })
	t.Cleanup(func() { close(block) })
	key := []byte{0x10, 0x00, 1, 2, 3}
	for i := 0; i < nackCongested+10; i++ {
		f.push(rawPacket(t, uint16(1000+i), uint32(i*3000), append(key[:2:2], byte(i))))
	}
	ss := f.subs[0]
	waitFor(t, 2*time.Second, "the queue to back up", func() bool { return len(ss.queue) > nackCongested })
	d := (*f.up.downs.Load())[0]
	before := len(ss.queue)
	d.onNACK(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 1, LostPackets: 0xff}}})
	if got := len(ss.queue); got > before {
		t.Fatalf("queue grew from %d to %d: retransmissions were queued behind a backlog", before, got)
	}
	if got := f.srv.ctr.nacksRefused.Load(); got != 9 {
		t.Fatalf("nacksRefused = %d, want 9 (one NACK pair: 1 + 8 bits)", got)
	}
}

// TestResendLogWraps: sequence numbers wrap, so a number resent often
// enough long ago may be resent again for the packet that has it now.
func TestResendLogWraps(t *testing.T) {
	var l resendLog
	at := int64(0)
	for i := 0; i < maxResends; i++ {
		if !l.allow(7, at) {
			t.Fatalf("resend %d refused", i+1)
		}
		at += int64(resendInterval)
	}
	if l.allow(7, at) {
		t.Fatal("a resend past maxResends was allowed")
	}
	if l.allow(7, at+int64(resendInterval)/2) {
		t.Fatal("still refused within the packet's lifetime")
	}
	if !l.allow(7, at+int64(maxResendAge)+1) {
		t.Fatal("the same number a wrap later was refused")
	}
	if l.allow(7+resendLogSize, at+int64(maxResendAge)+2) {
		t.Fatal("another number took a slot still held by a recent resend")
	}
	if !l.allow(7+resendLogSize, at+2*int64(maxResendAge)+2) {
		t.Fatal("another number in a slot whose resend is old was refused")
	}
}

// TestResendLogCollisions: NACKing two numbers resendLogSize apart, turn
// about, does not get either resent past the limits.
func TestResendLogCollisions(t *testing.T) {
	var l resendLog
	allowed, now := 0, int64(0)
	for i := 0; i < 20; i++ {
		if l.allow(1000, now) {
			allowed++
		}
		l.allow(1000+resendLogSize, now)
		now += int64(time.Millisecond)
	}
	if allowed != 1 {
		t.Errorf("seq 1000 resent %d times within %v, want 1", allowed, time.Duration(now))
	}
}
