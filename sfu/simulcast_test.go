package sfu

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// A simulcast publisher as Parley's browser client is one in an SFU room:
// three VP8 encodings of one track with RIDs q, h and f (lowest first),
// each with its own SSRC, the MID and RID header extensions on every
// packet, key frames that declare the layer's size, and a key frame on the
// layer a PLI names.

var simulcastRIDs = [maxLayers]string{"q", "h", "f"}

// simulcastSizes are the layers' picture sizes: ¼, ½ and full 720p.
var simulcastSizes = [maxLayers][2]int{{320, 180}, {640, 360}, {1280, 720}}

const (
	simulcastFPS = 15
	// simulcastHeader is where the seeded bytes start in a frame's first
	// packet: the descriptor byte and the 10-byte VP8 key-frame header.
	simulcastHeader = 11
)

// addSimulcast creates the layer tracks and the audio track and adds them
// to the client's connection.
func (c *testClient) addSimulcast() {
	t := c.t
	var err error
	for i, rid := range simulcastRIDs {
		c.layers[i], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: clockRateVideo},
			"video-"+c.id, "stream-"+c.id, webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.videoSender, err = c.pc.AddTrack(c.layers[0]); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.layers[1:] {
		if err := c.videoSender.AddEncoding(l); err != nil {
			t.Fatal(err)
		}
	}
	c.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: clockRateAudio, Channels: 2}, "audio-"+c.id, "stream-"+c.id)
	if err != nil {
		t.Fatal(err)
	}
	audioSender, err := c.pc.AddTrack(c.audio)
	if err != nil {
		t.Fatal(err)
	}
	c.drainRTCP(audioSender, false)
	for _, rid := range simulcastRIDs {
		c.drainLayerRTCP(rid)
	}
}

// drainLayerRTCP reads the SFU's RTCP for one layer and asks that layer for
// a key frame on a PLI or FIR.
func (c *testClient) drainLayerRTCP(rid string) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			pkts, _, err := c.videoSender.ReadSimulcastRTCP(rid)
			if err != nil {
				return
			}
			for _, p := range pkts {
				var ssrc uint32
				switch p := p.(type) {
				case *rtcp.PictureLossIndication:
					ssrc = p.MediaSSRC
				case *rtcp.FullIntraRequest:
					ssrc = p.MediaSSRC
				default:
					continue
				}
				c.plis.Add(1)
				for i, e := range c.videoSender.GetParameters().Encodings {
					if uint32(e.SSRC) == ssrc && i < maxLayers {
						c.layerKey[i].Store(true)
					}
				}
			}
		}
	}()
}

// simulcastIDs returns the negotiated MID and RID extension ids and the
// video section's mid, once the first negotiation is done.
func (c *testClient) simulcastIDs() (midID, ridID uint8, mid string) {
	for _, e := range c.videoSender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	for _, tr := range c.pc.GetTransceivers() {
		if tr.Sender() == c.videoSender {
			mid = tr.Mid()
		}
	}
	return midID, ridID, mid
}

// publishSimulcast sends the three layers (1, 2 and 3 packets a frame at
// 15 fps, a key frame every 2 s or after a PLI on that layer) and 50 pps
// of audio until the client closes.
func (c *testClient) publishSimulcast() {
	defer c.wg.Done()
	vt := time.NewTicker(time.Second / simulcastFPS)
	at := time.NewTicker(20 * time.Millisecond)
	defer vt.Stop()
	defer at.Stop()
	var seq [maxLayers]uint16
	var ts [maxLayers]uint32
	for i := range ts {
		ts[i] = uint32(i) * 1_000_000 // unrelated timestamps per layer, as browsers send
		seq[i] = uint16(i) * 10_000
	}
	var aseq uint16
	var ats uint32
	frame := 0
	for {
		select {
		case <-c.done:
			return
		case <-vt.C:
			midID, ridID, mid := c.simulcastIDs()
			if midID == 0 || ridID == 0 || mid == "" {
				continue // not negotiated yet
			}
			for l := range maxLayers {
				key := frame%(2*simulcastFPS) == 0 || c.layerKey[l].Swap(false)
				for i := 0; i <= l; i++ {
					h := rtp.Header{Version: 2, SequenceNumber: seq[l], Timestamp: ts[l], Marker: i == l}
					_ = h.SetExtension(midID, []byte(mid))
					_ = h.SetExtension(ridID, []byte(simulcastRIDs[l]))
					seed := uint64(l)<<48 | uint64(seq[l])<<16 | 0xBEEF
					err := c.layers[l].WriteRTP(&rtp.Packet{Header: h, Payload: simulcastPayload(i == 0, key, l, seed, c.opts.frameBytes)})
					if err != nil && !errors.Is(err, io.ErrClosedPipe) {
						return
					}
					c.sentV.Add(1)
					seq[l]++
				}
				ts[l] += clockRateVideo / simulcastFPS
			}
			frame++
		case <-at.C:
			h := rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ats}
			b := make([]byte, audioPacketBytes)
			b[0] = 0x78
			fillPayload(b[1:], uint64(aseq)<<8|0x0A)
			if err := c.audio.WriteRTP(&rtp.Packet{Header: h, Payload: b}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
			c.sentA.Add(1)
			aseq++
			ats += clockRateAudio / 50
		}
	}
}

// simulcastPayload is one VP8 packet of layer l: on a frame's first packet
// the descriptor (S=1) and a 10-byte VP8 frame header (RFC 6386 §9.1; on
// key frames the start code and the layer's size), then seeded bytes.
func simulcastPayload(first, key bool, l int, seed uint64, size int) []byte {
	if size < simulcastHeader+8 {
		size = 300
	}
	b := make([]byte, size)
	off := 1
	if first {
		b[0] = 0x10
		f := b[1:simulcastHeader]
		f[0] = 0x01
		if key {
			f[0] = 0x00
			f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
			binary.LittleEndian.PutUint16(f[6:], uint16(simulcastSizes[l][0]))
			binary.LittleEndian.PutUint16(f[8:], uint16(simulcastSizes[l][1]))
		}
		off = simulcastHeader
	}
	fillPayload(b[off:], seed)
	return b
}

// rxPacket is one received video packet: its numbers, and which layer and
// frame kind the payload says it is.
type rxPacket struct {
	seq   uint16
	ts    uint32
	layer int
	key   bool
	at    time.Time
}

func rxPacketOf(p *rtp.Packet, intact bool) rxPacket {
	r := rxPacket{seq: p.SequenceNumber, ts: p.Timestamp, layer: -1, at: time.Now()}
	if !intact || len(p.Payload) < simulcastHeader+8 {
		return r
	}
	off := 1
	if p.Payload[0]&0x10 != 0 {
		off = simulcastHeader
		r.key = p.Payload[1]&0x01 == 0
	}
	r.layer = int(binary.BigEndian.Uint64(p.Payload[off:]) >> 48)
	return r
}

// videoLog returns the packets received so far from peer's video.
func (c *testClient) videoLog(peer string) []rxPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ti := range c.tracks {
		if ti.Peer == peer && ti.Kind == "video" {
			if r := c.recv[ti.Track]; r != nil {
				return slices.Clone(r.log)
			}
		}
	}
	return nil
}

// view sends a `view` payload for peer's video.
func (c *testClient) view(peer string, w, h int, visible bool) {
	ti, _ := c.trackOf(peer, "video")
	if ti.Track == "" {
		c.t.Fatalf("%s: no video track of %s to view", c.id, peer)
	}
	c.signal(map[string]any{"view": []viewItem{{Track: ti.Track, Width: w, Height: h, Visible: visible}}})
}

// inOrder drops from an arrival log the packets that came after a newer
// one: resends of NACKed packets and reordering. A packet lost on a narrow
// link and resent once it widened arrives long after its neighbours and
// would make a layer's run seem to start at it.
func inOrder(log []rxPacket) []rxPacket {
	out := log[:0:0]
	for _, p := range log {
		if n := len(out); n > 0 && int16(p.seq-out[n-1].seq) <= 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// expectLayer waits until the newest packets of peer's video come from
// layer want, and checks the switch into it: it began at a key frame, and
// the sequence numbers and timestamps went on without a jump.
func expectLayer(t *testing.T, c *testClient, peer string, want int, within time.Duration) {
	t.Helper()
	var log []rxPacket
	waitFor(t, within, "video from layer "+simulcastRIDs[want], func() bool {
		log = inOrder(c.videoLog(peer))
		n := len(log)
		return n >= 3 && log[n-1].layer == want && log[n-2].layer == want && log[n-3].layer == want
	})
	// Find where the current run of the layer began.
	i := len(log) - 1
	for i > 0 && log[i-1].layer == want {
		i--
	}
	first := log[i]
	if !first.key {
		t.Errorf("the switch to layer %s began with a delta frame (seq %d)", simulcastRIDs[want], first.seq)
	}
	if i == 0 {
		return // the very first layer: nothing to be continuous with
	}
	prev := log[i-1]
	if gap := c.nonPadding(peer, prev.seq+1, first.seq); first.seq == prev.seq || gap != 0 {
		t.Errorf("switch to layer %s: sequence %d → %d, want +1 (or only probe padding between)", simulcastRIDs[want], prev.seq, first.seq)
	}
	// The timestamp moves on by about the time between the two packets
	// (90 kHz), never backwards.
	elapsed := first.at.Sub(prev.at)
	dts := first.ts - prev.ts
	if dts >= 0x80000000 || time.Duration(dts)*time.Second/clockRateVideo > elapsed+time.Second {
		t.Errorf("switch to layer %s: timestamp %d → %d after %v", simulcastRIDs[want], prev.ts, first.ts, elapsed)
	}
}

// TestSimulcastLayerSelection is the pion test of layer selection: a subscriber asking
// for 320×180 gets the low layer, then full size gets the high layer
// within 2 s (starting at a key frame, numbers continuous), back to small
// gets the low layer again (A→B→A), hidden gets no video while audio keeps
// flowing; and the publisher is told which layers nobody wants.
func TestSimulcastLayerSelection(t *testing.T) {
	s := newTestServer(t)
	pub := join(t, s, "r", "pub", clientOptions{publish: true, simulcast: true})
	viewer := join(t, s, "r", "viewer", clientOptions{data: true, record: true})

	waitFor(t, 10*time.Second, "the viewer receives video", func() bool { return viewer.packetsFrom("pub", "video") > 10 })
	viewer.view("pub", 320, 180, true)
	expectLayer(t, viewer, "pub", 0, 5*time.Second)

	viewer.view("pub", 1280, 720, true)
	expectLayer(t, viewer, "pub", 2, 2*time.Second)

	viewer.view("pub", 640, 360, true)
	expectLayer(t, viewer, "pub", 1, 2*time.Second)

	viewer.view("pub", 300, 170, true)
	expectLayer(t, viewer, "pub", 0, 2*time.Second)

	// Hidden: no more video; audio goes on.
	viewer.view("pub", 300, 170, false)
	time.Sleep(300 * time.Millisecond) // packets already queued may still arrive
	v0, a0 := viewer.packetsFrom("pub", "video"), viewer.packetsFrom("pub", "audio")
	time.Sleep(time.Second)
	if v1 := viewer.packetsFrom("pub", "video"); v1 != v0 {
		t.Errorf("a hidden tile received %d video packets", v1-v0)
	}
	if a1 := viewer.packetsFrom("pub", "audio"); a1-a0 < 10 {
		t.Errorf("audio stopped with the video: %d packets in 1 s", a1-a0)
	}
	if n := s.Stats().PausedTracks; n != 1 {
		t.Errorf("PausedTracks = %d while the only tile is hidden, want 1", n)
	}

	// Visible again: video resumes at a key frame.
	viewer.view("pub", 320, 180, true)
	expectLayer(t, viewer, "pub", 0, 2*time.Second)

	// Dynacast: with the only subscriber on layer q, h and f are
	// reported unused.
	waitFor(t, 5*time.Second, "a `layers` payload with only q", func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		n := len(pub.layerMsgs)
		return n > 0 && slices.Equal(pub.layerMsgs[n-1].Active, []string{"q"}) && pub.layerMsgs[n-1].Track == "video-pub"
	})
	if n := s.Stats().PausedTracks; n != 0 {
		t.Errorf("PausedTracks = %d after the tile came back, want 0", n)
	}
	if st := s.Stats(); st.LayerSwitches < 4 {
		t.Errorf("LayerSwitches = %d, want ≥ 4", st.LayerSwitches)
	}
	if n := viewer.badPayloads(); n != 0 {
		t.Errorf("%d payloads changed on the way", n)
	}
}

// TestSimulcastNACKFromLayer: after a switch, a NACK for a packet sent
// from the previous layer is answered with that layer's packet.
func TestSimulcastNACKFromLayer(t *testing.T) {
	s := newTestServer(t)
	join(t, s, "r", "pub", clientOptions{publish: true, simulcast: true})
	viewer := join(t, s, "r", "viewer", clientOptions{data: true, record: true})
	waitFor(t, 10*time.Second, "the viewer receives video", func() bool { return viewer.packetsFrom("pub", "video") > 10 })
	viewer.view("pub", 320, 180, true)
	expectLayer(t, viewer, "pub", 0, 5*time.Second)
	viewer.view("pub", 1280, 720, true)
	expectLayer(t, viewer, "pub", 2, 2*time.Second)

	log := viewer.videoLog("pub")
	var lost rxPacket
	for _, p := range slices.Backward(log) {
		if p.layer == 0 {
			lost = p
			break
		}
	}
	ti, rv := viewer.trackOf("pub", "video")
	viewer.mu.Lock()
	before := rv.seqs[lost.seq]
	ssrc := rv.ssrc
	viewer.mu.Unlock()
	_ = ti
	if err := viewer.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: lost.seq}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the retransmission", func() bool {
		viewer.mu.Lock()
		defer viewer.mu.Unlock()
		return rv.seqs[lost.seq] > before
	})
	// The copy is the layer-q packet with the same numbers.
	for _, p := range slices.Backward(viewer.videoLog("pub")) {
		if p.seq == lost.seq {
			if p.layer != 0 || p.ts != lost.ts {
				t.Errorf("NACK for %d answered with layer %d ts %d, want layer 0 ts %d", lost.seq, p.layer, p.ts, lost.ts)
			}
			break
		}
	}
}

// TestDynacastOff: with NoDynacast the publisher is never told to stop a
// layer, though its only subscriber takes the lowest (the comparison
// docs/benchmarks.md makes of a publisher's CPU).
func TestDynacastOff(t *testing.T) {
	s := newTestServerWith(t, Config{NoDynacast: true})
	pub := join(t, s, "r", "pub", clientOptions{publish: true, simulcast: true})
	viewer := join(t, s, "r", "viewer", clientOptions{data: true, record: true})
	waitFor(t, 10*time.Second, "the viewer receives video", func() bool { return viewer.packetsFrom("pub", "video") > 10 })
	viewer.view("pub", 320, 180, true)
	expectLayer(t, viewer, "pub", 0, 5*time.Second)
	time.Sleep(dynacastHold + 2*speakerInterval) // past the time h and f would be reported unused
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if len(pub.layerMsgs) != 0 {
		t.Errorf("dynacast off, yet the publisher was told %+v", pub.layerMsgs)
	}
}
