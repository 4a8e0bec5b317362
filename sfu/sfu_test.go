package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// Integration tests: the real Server, pion participants on loopback. Each
// checks for leaked goroutines once everything is closed (registered first,
// so the check runs after every other cleanup).

// expectEveryoneReceives waits until every client got at least n packets of
// every other client's audio and video.
func expectEveryoneReceives(t *testing.T, clients []*testClient, n int) {
	t.Helper()
	for _, rx := range clients {
		for _, tx := range clients {
			if rx == tx {
				continue
			}
			for _, kind := range []string{"audio", "video"} {
				waitFor(t, 10*time.Second, fmt.Sprintf("%s to receive %d %s packets from %s", rx.id, n, kind, tx.id), func() bool {
					return rx.packetsFrom(tx.id, kind) >= n
				})
			}
		}
	}
}

func TestThreeParticipantsReceiveEachOther(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r1", "a", clientOptions{publish: true})
	b := join(t, s, "r1", "b", clientOptions{publish: true})
	c := join(t, s, "r1", "c", clientOptions{publish: true})
	other := join(t, s, "r2", "x", clientOptions{publish: true}) // another room
	clients := []*testClient{a, b, c}

	expectEveryoneReceives(t, clients, 60)

	for _, rx := range clients {
		if n := rx.badPayloads(); n != 0 {
			t.Errorf("%s: %d payloads changed in transit", rx.id, n)
		}
		for _, ti := range rx.tracksNow() {
			if ti.Peer == rx.id {
				t.Errorf("%s receives its own track %+v", rx.id, ti)
			}
			if ti.Peer == "x" {
				t.Errorf("%s receives a track from another room: %+v", rx.id, ti)
			}
			if want := "stream-" + ti.Peer; ti.Stream != want {
				t.Errorf("%s: track %+v: stream id %q, want the publisher's %q", rx.id, ti, ti.Stream, want)
			}
		}
		if got := len(rx.tracksNow()); got != 4 {
			t.Errorf("%s: %d forwarded tracks, want 4", rx.id, got)
		}
		rx.mu.Lock()
		if len(rx.media) != 2 {
			t.Errorf("%s: media payloads from %d peers, want 2: %v", rx.id, len(rx.media), rx.media)
		}
		rx.mu.Unlock()
	}
	if got := other.tracksNow(); len(got) != 0 {
		t.Errorf("alone in r2, x receives %v", got)
	}

	st := s.Stats()
	if st.Sessions != 4 || st.Tracks != 8 || st.Subscriptions != 12 {
		t.Errorf("stats: sessions %d tracks %d subscriptions %d, want 4, 8, 12", st.Sessions, st.Tracks, st.Subscriptions)
	}
	if st.ForwardedPackets == 0 || st.ForwardedBytes == 0 {
		t.Errorf("stats: nothing forwarded: %+v", st)
	}
	if st.SRTPGCM != 4 || st.SRTPOther != 0 {
		t.Errorf("SRTP profiles: %d GCM, %d other; want every handshake on GCM", st.SRTPGCM, st.SRTPOther)
	}
}

// TestReceiveOnlyIsNotForwarded: a participant attached receive-only (a
// join token without publish) sends media anyway; nobody receives it, and
// it still receives everyone else and its data channel still works.
func TestReceiveOnlyIsNotForwarded(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true})
	v := join(t, s, "r", "v", clientOptions{publish: true, receiveOnly: true, data: true})
	b := join(t, s, "r", "b", clientOptions{publish: true, data: true})

	waitFor(t, 15*time.Second, "v receives a and b", func() bool {
		return v.packetsFrom("a", "video") > 30 && v.packetsFrom("b", "video") > 30 &&
			b.packetsFrom("a", "video") > 30 && a.packetsFrom("b", "video") > 30
	})
	time.Sleep(500 * time.Millisecond) // v has been sending all along
	for _, rx := range []*testClient{a, b} {
		for _, ti := range rx.tracksNow() {
			if ti.Peer == "v" {
				t.Errorf("%s receives %s from the receive-only participant: %+v", rx.id, ti.Kind, ti)
			}
		}
	}
	if st := s.Stats(); st.Tracks != 4 {
		t.Errorf("stats: %d tracks published, want 4 (a's and b's)", st.Tracks)
	}
	waitFor(t, 5*time.Second, "v's channel to open", func() bool { return v.chat.ReadyState() == webrtc.DataChannelStateOpen })
	if err := v.chat.SendText(`{"sealed":"dmlld2Vy"}`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "b to get v's message", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.dataIn) > 0 && string(b.dataIn[0].Data) == `{"sealed":"dmlld2Vy"}`
	})
}

func TestLeaveRenegotiatesAndLateJoinerReceives(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true})
	b := join(t, s, "r", "b", clientOptions{publish: true})
	c := join(t, s, "r", "c", clientOptions{publish: true})
	expectEveryoneReceives(t, []*testClient{a, b, c}, 20)

	offersA, offersB := a.sfuOffer.Load(), b.sfuOffer.Load()
	c.close()
	for _, rx := range []*testClient{a, b} {
		waitFor(t, 5*time.Second, rx.id+" to get an offer without c's tracks", func() bool {
			for _, ti := range rx.tracksNow() {
				if ti.Peer == "c" {
					return false
				}
			}
			return len(rx.tracksNow()) == 2
		})
	}
	waitFor(t, 5*time.Second, "the offers that remove c's tracks", func() bool {
		return a.sfuOffer.Load() > offersA && b.sfuOffer.Load() > offersB
	})
	waitFor(t, 5*time.Second, "the gauges to drop c", func() bool {
		st := s.Stats()
		return st.Sessions == 2 && st.Tracks == 4 && st.Subscriptions == 4
	})

	d := join(t, s, "r", "d", clientOptions{publish: true})
	expectEveryoneReceives(t, []*testClient{a, b, d}, 20)
}

func TestKeyframeRequests(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true})
	waitFor(t, 5*time.Second, "a to connect", func() bool { return a.ss.State() == "connected" })
	time.Sleep(keyframeInterval) // let a start-up PLI, if any, age out
	before := a.plis.Load()

	// A new subscriber makes the SFU ask for a key frame on its own.
	b := join(t, s, "r", "b", clientOptions{})
	waitFor(t, 5*time.Second, "a PLI for the new subscriber", func() bool { return a.plis.Load() > before })
	waitFor(t, 5*time.Second, "b to receive video", func() bool { return b.packetsFrom("a", "video") > 10 })

	// A subscriber's PLIs reach the publisher, throttled.
	_, rv := b.trackOf("a", "video")
	if rv == nil {
		t.Fatal("b has no video track from a")
	}
	time.Sleep(keyframeInterval)
	before = a.plis.Load()
	start := time.Now()
	for i := 0; i < 20; i++ {
		if err := b.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: rv.ssrc}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, 2*time.Second, "b's PLI to reach a", func() bool { return a.plis.Load() > before })
	time.Sleep(2 * keyframeInterval)
	got := int(a.plis.Load() - before)
	// 20 PLIs over ≈200 ms, then nothing: one at once and one deferred
	// to the end of the 500 ms window.
	maxWant := int(time.Since(start)/keyframeInterval) + 1
	if got < 1 || got > maxWant {
		t.Errorf("publisher got %d PLIs for 20 in %v, want 1..%d (throttled to one per %v)", got, time.Since(start).Round(time.Millisecond), maxWant, keyframeInterval)
	}
}

func TestStalledSubscriberDoesNotSlowOthers(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true})
	_ = join(t, s, "r", "stuck", clientOptions{noRead: true})
	b := join(t, s, "r", "b", clientOptions{})
	waitFor(t, 10*time.Second, "b to receive", func() bool {
		return b.packetsFrom("a", "video") > 30 && b.packetsFrom("a", "audio") > 10
	})

	// Over a window, b must receive what a sent: the stalled subscriber
	// must cost it nothing. (Compared with what a actually sent, not with
	// the nominal rate: under -race on a busy machine the publisher's
	// tickers run late.)
	const window = 2 * time.Second
	v0, a0 := b.packetsFrom("a", "video"), b.packetsFrom("a", "audio")
	sv0, sa0 := a.sentV.Load(), a.sentA.Load()
	time.Sleep(window)
	sv, sa := int(a.sentV.Load()-sv0), int(a.sentA.Load()-sa0)
	time.Sleep(200 * time.Millisecond) // what was in flight at the end
	v, au := b.packetsFrom("a", "video")-v0, b.packetsFrom("a", "audio")-a0
	if v < sv*9/10 || au < sa*9/10 {
		t.Errorf("next to a stalled subscriber b received %d/%d video and %d/%d audio packets a sent in %v", v, sv, au, sa, window)
	}
	if sv < int(window.Seconds()*framesPerSecond*packetsPerFrame)/3 {
		t.Logf("publisher sent only %d video packets in %v: machine overloaded", sv, window)
	}
}

func TestNACKServedFromPacketCache(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	_ = join(t, s, "r", "a", clientOptions{publish: true})
	b := join(t, s, "r", "b", clientOptions{})
	waitFor(t, 10*time.Second, "b to receive video", func() bool { return b.packetsFrom("a", "video") > 60 })

	_, rv := b.trackOf("a", "video")
	b.mu.Lock()
	seq := rv.lastSeq - 30 // sent ≈ 300 ms ago: in the buffer, received once
	n := rv.seqs[seq]
	b.mu.Unlock()
	if n != 1 {
		t.Fatalf("b received seq %d %d times before the NACK", seq, n)
	}
	served := s.Stats().NACKsServed
	nack := &rtcp.TransportLayerNack{MediaSSRC: rv.ssrc, Nacks: []rtcp.NackPair{{PacketID: seq}}}
	if err := b.pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, fmt.Sprintf("the retransmission of seq %d", seq), func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return rv.seqs[seq] >= 2
	})
	if got := s.Stats().NACKsServed - served; got < 1 {
		t.Errorf("Stats.NACKsServed grew by %d, want ≥ 1", got)
	}
	if n := b.badPayloads(); n != 0 {
		t.Errorf("%d bad payloads (the retransmission must be the same bytes)", n)
	}
}

func TestPayloadPassthrough(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	_ = join(t, s, "r", "a", clientOptions{publish: true, loudAudio: true})
	b := join(t, s, "r", "b", clientOptions{})
	waitFor(t, 10*time.Second, "b to receive", func() bool {
		return b.packetsFrom("a", "video") > 100 && b.packetsFrom("a", "audio") > 50
	})
	if n := b.badPayloads(); n != 0 {
		t.Errorf("%d payloads changed between publisher and subscriber", n)
	}
	// The audio-level extension is end-to-end and must survive the SFU.
	_, ra := b.trackOf("a", "audio")
	b.mu.Lock()
	levels, packets := ra.levels, ra.packets
	b.mu.Unlock()
	if levels < packets/2 {
		t.Errorf("%d of %d audio packets kept the audio-level extension", levels, packets)
	}
}

func TestDataChannelForwarding(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{data: true})
	b := join(t, s, "r", "b", clientOptions{data: true})
	c := join(t, s, "r", "c", clientOptions{}) // no channel: the SFU opens one
	waitFor(t, 5*time.Second, "a's channel to open", func() bool { return a.chat.ReadyState() == webrtc.DataChannelStateOpen })
	waitFor(t, 5*time.Second, "b's channel to open", func() bool { return b.chat.ReadyState() == webrtc.DataChannelStateOpen })

	bin := []byte{0, 1, 2, 0xff, 0xfe, 'x'}
	if err := a.chat.SendText(`{"sealed":"c2VjcmV0"}`); err != nil {
		t.Fatal(err)
	}
	if err := a.chat.Send(bin); err != nil {
		t.Fatal(err)
	}
	for _, rx := range []*testClient{b, c} {
		waitFor(t, 10*time.Second, rx.id+" to receive a's two messages", func() bool {
			rx.mu.Lock()
			defer rx.mu.Unlock()
			return len(rx.dataIn) >= 2
		})
		rx.mu.Lock()
		got := rx.dataIn
		rx.mu.Unlock()
		if len(got) != 2 || !got[0].IsString || string(got[0].Data) != `{"sealed":"c2VjcmV0"}` || got[1].IsString || string(got[1].Data) != string(bin) {
			t.Errorf("%s received %+v, want the text then the binary message, unchanged", rx.id, got)
		}
	}
	a.mu.Lock()
	echoed := len(a.dataIn)
	a.mu.Unlock()
	if echoed != 0 {
		t.Errorf("the sender got %d of its own messages back", echoed)
	}
	if st := s.Stats(); st.DataMessages < 4 {
		t.Errorf("Stats.DataMessages = %d, want ≥ 4", st.DataMessages)
	}
}

// TestSpeakerLeaves: a newcomer is not told that a participant who left is
// the active speaker.
func TestSpeakerLeaves(t *testing.T) {
	s := newTestServer(t)
	var mu sync.Mutex
	var got []string
	attach := func(id string, record bool) *Session {
		ss, err := s.Attach("r", id, func(d json.RawMessage) {
			if record {
				mu.Lock()
				got = append(got, string(d))
				mu.Unlock()
			}
		}, AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	a, b := attach("a", false), attach("b", false)
	a.room.mu.Lock()
	a.room.speaker = "a"
	a.room.mu.Unlock()
	a.Close()
	c := attach("c", true)
	mu.Lock()
	for _, m := range got {
		if m == `{"speaker":"a"}` {
			t.Errorf("the newcomer was told that a, who left, is speaking")
		}
	}
	mu.Unlock()
	b.Close()
	c.Close()
}

func TestActiveSpeaker(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	_ = join(t, s, "r", "a", clientOptions{publish: true})
	_ = join(t, s, "r", "loud", clientOptions{publish: true, loudAudio: true})
	c := join(t, s, "r", "c", clientOptions{})
	waitFor(t, 10*time.Second, `{"speaker":"loud"}`, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.speakers) > 0 && c.speakers[len(c.speakers)-1] == "loud"
	})
	time.Sleep(4 * speakerInterval)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.speakers) != 1 {
		t.Errorf("speaker events %v, want exactly one (no flapping)", c.speakers)
	}
}

func TestGlareSFUIsImpolite(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true})
	waitFor(t, 5*time.Second, "a to connect", func() bool { return a.ss.State() == "connected" })

	// Hold a's inbox, make the SFU offer to a (b publishes), and wait
	// until that offer is in flight.
	a.hold.Lock()
	offers := a.sfuOffer.Load()
	b := join(t, s, "r", "b", clientOptions{publish: true})
	waitFor(t, 5*time.Second, "the SFU to offer to a", func() bool {
		a.ss.negMu.Lock()
		defer a.ss.negMu.Unlock()
		return a.ss.offering
	})
	// a offers too: glare. The SFU, impolite, ignores the offer: no
	// error, no answer, its own offer still stands. (A browser would now
	// roll its offer back and make it again once stable; pion v4.2.20
	// cannot roll back a local offer, so the colliding offer comes from a
	// scratch connection and a offers for real below.)
	scratch, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = scratch.Close() }()
	if _, err := scratch.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	offer, err := scratch.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"description": offer})
	if err := a.ss.Signal(raw); err != nil {
		t.Fatalf("the SFU must ignore a colliding offer without an error, got %v", err)
	}
	if st := a.ss.pc.SignalingState(); st != webrtc.SignalingStateHaveLocalOffer {
		t.Fatalf("after a colliding client offer the SFU is %s, want have-local-offer", st)
	}
	a.hold.Unlock() // a answers the SFU's offer (an answer to a's offer would fail in handle)

	// b's audio and video may each need an SFU offer: wait until both
	// flow to a and the SFU has nothing left to offer, so that a's offer
	// below does not collide with another SFU offer (this test client,
	// like pion, cannot roll back the way a polite browser would).
	waitFor(t, 10*time.Second, "the SFU to finish offering b's tracks to a", func() bool {
		a.ss.negMu.Lock()
		idle := a.sfuOffer.Load() > offers && !a.ss.offering && !a.ss.needOffer
		a.ss.negMu.Unlock()
		return idle && a.packetsFrom("b", "video") > 0 && a.packetsFrom("b", "audio") > 0
	})
	// Now a starts its screen share: a client-initiated renegotiation.
	screen, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: clockRateVideo}, "screen-a", "screen-a")
	if err != nil {
		t.Fatal(err)
	}
	a.hold.Lock()
	if _, err := a.pc.AddTrack(screen); err != nil {
		t.Fatal(err)
	}
	a.offer()
	a.hold.Unlock()

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			pkt := &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
				Payload: videoPayload(true, true, uint64(seq)),
			}
			if err := screen.WriteRTP(pkt); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	waitFor(t, 10*time.Second, "b to receive a's screen share", func() bool {
		for _, ti := range b.tracksNow() {
			if ti.Peer == "a" && ti.Stream == "screen-a" {
				b.mu.Lock()
				defer b.mu.Unlock()
				r := b.recv[ti.Track]
				return r != nil && r.packets > 5
			}
		}
		return false
	})
	expectEveryoneReceives(t, []*testClient{a, b}, 10)
}

func TestSignalRefusesBadInput(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	ss, err := s.Attach("r", "p", func(json.RawMessage) {}, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attach("r", "p", func(json.RawMessage) {}, AttachOptions{}); !errors.Is(err, ErrDuplicatePeer) {
		t.Errorf("second Attach of the same peer: %v, want ErrDuplicatePeer", err)
	}
	cases := []struct {
		in   string
		want error
	}{
		{``, ErrBadSignal},
		{`[]`, ErrBadSignal},
		{`"offer"`, ErrBadSignal},
		{`{}`, ErrBadSignal},
		{`{"description":{"type":"offer","sdp":"v=0"},"candidate":null}`, ErrBadSignal},
		{`{"description":"offer"}`, ErrBadSignal},
		{`{"description":{"type":"bogus","sdp":"v=0"}}`, ErrBadSignal},
		{`{"description":{"type":"offer","sdp":""}}`, ErrBadSignal},
		{`{"description":{"type":"offer","sdp":"not sdp at all"}}`, ErrBadDescription},
		{`{"description":{"type":"answer","sdp":"v=0\r\n"}}`, ErrUnexpectedAnswer},
		{`{"description":{"type":"pranswer","sdp":"v=0\r\n"}}`, ErrBadSignal},
		{`{"candidate":17}`, ErrBadSignal},
		{`{"media":{"camera":5}}`, ErrBadSignal},
		{`{"media":{"camera":"` + string(make([]byte, 200)) + `"}}`, ErrBadSignal},
		{`{"candidate":null}`, nil},
		{`{"description":{"type":"rollback"}}`, nil},
		{`{"media":{"camera":"s1","screen":null,"mic":true,"cam":false}}`, nil},
	}
	for _, tc := range cases {
		err := ss.Signal(json.RawMessage(tc.in))
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Signal(%.60q) = %v, want %v", tc.in, err, tc.want)
		}
	}
	// Candidates before any description are kept, but not without bound.
	var lastErr error
	for i := 0; i <= maxPendingCandidates; i++ {
		lastErr = ss.Signal(json.RawMessage(`{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`))
	}
	if !errors.Is(lastErr, ErrBadCandidate) {
		t.Errorf("candidate %d before an offer: %v, want ErrBadCandidate", maxPendingCandidates+1, lastErr)
	}
	ss.Close()
	if err := ss.Signal(json.RawMessage(`{"candidate":null}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Signal after Close = %v, want ErrClosed", err)
	}
	if got := s.Stats().Sessions; got != 0 {
		t.Errorf("Stats.Sessions after Close = %d", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attach("r", "q", func(json.RawMessage) {}, AttachOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Close = %v, want ErrClosed", err)
	}
}

func TestBadOfferDoesNotWedgeSession(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	ss, err := s.Attach("r", "p", func(json.RawMessage) {}, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	// Parses, but has no ICE credentials: pion finds that only after it
	// moved to have-remote-offer, and cannot roll back.
	bad := `{"description":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"}}`
	if err := ss.Signal(json.RawMessage(bad)); !errors.Is(err, ErrBadDescription) {
		t.Fatalf("offer without ICE credentials: %v, want ErrBadDescription", err)
	}
	if st := ss.pc.SignalingState(); st != webrtc.SignalingStateStable {
		t.Fatalf("a refused offer left the connection in %s", st)
	}
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"description": offer})
	if err := ss.Signal(raw); err != nil {
		t.Fatalf("a good offer after a bad one: %v", err)
	}
}

func TestServerCloseEndsSessions(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true, data: true})
	b := join(t, s, "r", "b", clientOptions{publish: true})
	expectEveryoneReceives(t, []*testClient{a, b}, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sessions != 0 || st.Tracks != 0 || st.Subscriptions != 0 {
		t.Errorf("after Close: %+v", st)
	}
	if st := a.ss.State(); st != "closed" {
		t.Errorf("session state after server Close: %s", st)
	}
}

func TestPublicIPsAreAdvertised(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s, err := New(Config{ListenIP: "127.0.0.1", Loopback: true, PublicIPs: []string{"203.0.113.7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	got := make(chan string, 16)
	ss, err := s.Attach("r", "p", func(d json.RawMessage) {
		select {
		case got <- string(d):
		default:
		}
	}, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	// Only the SFU's candidates matter; the client never connects.
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, _ := pc.CreateOffer(nil)
	raw, _ := json.Marshal(map[string]any{"description": offer})
	if err := ss.Signal(raw); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case d := <-got:
			if strings.Contains(d, "127.0.0.1") {
				t.Fatalf("the private address leaked into %s", d)
			}
			if strings.Contains(d, "203.0.113.7") {
				return
			}
		case <-deadline:
			t.Fatal("no candidate with the public IP")
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{ListenIP: "not-an-ip"},
		{ListenIP: "127.0.0.1", UDPPort: 70000},
		{ListenIP: "127.0.0.1", PublicIPs: []string{"nope"}},
	} {
		if s, err := New(cfg); err == nil {
			_ = s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		} else if !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	s := newTestServer(t)
	if s.Port() == 0 {
		t.Error("Port() = 0 for an ephemeral port")
	}
}

// TestChurnReusesMediaSections: people coming and going must not grow a
// subscriber's session description: the sections of tracks that left are
// given to the tracks that come (slots.go), and the newcomers' media flows
// on them.
func TestChurnReusesMediaSections(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	a := join(t, s, "r", "a", clientOptions{publish: true})
	var sections int
	for round := range 4 {
		id := fmt.Sprintf("p%d", round)
		p := join(t, s, "r", id, clientOptions{publish: true})
		expectEveryoneReceives(t, []*testClient{a, p}, 20)
		n := len(a.pc.GetTransceivers())
		if round == 0 {
			sections = n
		} else if n != sections {
			t.Errorf("round %d: a has %d media sections, want %d as after the first join (sections of people who left must be reused)", round, n, sections)
		}
		offers := a.sfuOffer.Load()
		p.close()
		waitFor(t, 5*time.Second, "a's offer without "+id+"'s tracks", func() bool {
			return len(a.tracksNow()) == 0 && a.sfuOffer.Load() > offers
		})
		waitFor(t, 5*time.Second, "the gauges to drop "+id, func() bool {
			st := s.Stats()
			return st.Sessions == 1 && st.Subscriptions == 0
		})
	}
}
