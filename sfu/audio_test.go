package sfu

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func TestWithOpusDTX(t *testing.T) {
	in := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
		"a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=fmtp:96 x=1\r\n"
	out := withOpusDTX(in)
	want := strings.Replace(in, "useinbandfec=1\r\n", "useinbandfec=1;usedtx=1\r\n", 1)
	if out != want {
		t.Errorf("withOpusDTX:\n%q\nwant\n%q", out, want)
	}
	if again := withOpusDTX(out); again != out {
		t.Errorf("usedtx added twice: %q", again)
	}
	if s := "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"; withOpusDTX(s) != s {
		t.Error("an SDP without Opus changed")
	}
}

func TestAudibleSet(t *testing.T) {
	ids := func(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
	act := map[string]int{}
	for i := range 10 {
		act[fmt.Sprintf("p%d", i)] = 10 + i // p9 loudest
	}
	got := audibleSet(nil, act, map[string]bool{"presenter": true})
	if want := []string{"p4", "p5", "p6", "p7", "p8", "p9", "presenter"}; !slices.Equal(ids(got), want) {
		t.Fatalf("first choice %v, want %v", ids(got), want)
	}
	// p3 gets a little louder than p4: not enough to take its place.
	act["p3"] = act["p4"] + loudestMargin - 1
	got = audibleSet(got, act, nil)
	if got["p3"] || !got["p4"] {
		t.Errorf("a small lead swapped speakers: %v", ids(got))
	}
	// With a clear lead it does, and the quietest goes.
	act["p3"] = act["p4"] + loudestMargin
	got = audibleSet(got, act, nil)
	if !got["p3"] || got["p4"] || len(got) != loudestN {
		t.Errorf("a clear lead did not take the quietest place: %v", ids(got))
	}
	// Silence frees places; nobody silent is forwarded.
	got = audibleSet(got, map[string]int{"p9": 5}, nil)
	if want := []string{"p9"}; !slices.Equal(ids(got), want) {
		t.Errorf("after silence %v, want %v", ids(got), want)
	}
}

// TestAnswerAsksForDTX: the SFU's answer asks the client for Opus DTX.
func TestAnswerAsksForDTX(t *testing.T) {
	s := newTestServer(t)
	c := join(t, s, "r", "a", clientOptions{publish: true})
	waitFor(t, 10*time.Second, "the answer", func() bool { return c.pc.RemoteDescription() != nil })
	if sdp := c.pc.RemoteDescription().SDP; !strings.Contains(sdp, "usedtx=1") {
		t.Errorf("answer without usedtx=1:\n%s", sdp)
	}
}

// TestTickAudioLoudest: above LoudestRoomSize only the loudest speakers
// and the presenter are forwarded; at or below it, everyone.
func TestTickAudioLoudest(t *testing.T) {
	r := newRoom(&Server{}, "big")
	var tracks []*upTrack
	for i := range LoudestRoomSize + 1 {
		ss := &Session{id: fmt.Sprintf("p%02d", i)}
		r.sessions[ss.id] = ss
		u := &upTrack{owner: ss, kind: webrtc.RTPCodecTypeAudio}
		r.tracks = append(r.tracks, u)
		tracks = append(tracks, u)
	}
	screen := "s"
	r.media["p20"] = mediaState{Screen: &screen}
	counts := map[string]int{}
	for i := range 10 {
		counts[fmt.Sprintf("p%02d", i)] = 25 - i // p00 loudest
	}
	r.tickAudio(counts)
	var audible []string
	for _, u := range tracks {
		if !u.muted.Load() {
			audible = append(audible, u.owner.id)
		}
	}
	if want := []string{"p00", "p01", "p02", "p03", "p04", "p05", "p20"}; !slices.Equal(audible, want) {
		t.Errorf("audible %v, want %v", audible, want)
	}
	// One leaves: the room is small again and everyone is forwarded.
	delete(r.sessions, "p19")
	r.tickAudio(counts)
	for _, u := range tracks {
		if u.muted.Load() {
			t.Errorf("%s muted in a room of %d", u.owner.id, len(r.sessions))
		}
	}
}
