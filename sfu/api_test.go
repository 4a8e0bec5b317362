package sfu

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TestHeaderExtensionIDsMatchChromium: the ids the SFU offers on its own
// are the ones Chromium gives the same extensions (api.go), MID, RID and
// repaired RID included (4, 10, 11), and the placeholders that reserve 5–9
// are never offered, so an SFU offer crossing a browser offer cannot
// collide in the BUNDLE group.
func TestHeaderExtensionIDsMatchChromium(t *testing.T) {
	s := newTestServer(t)
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Chromium 156's offer: 1 audio level, 2 abs-send-time, 3 transport-cc,
	// 4 MID, 10 RID, 11 repaired RID.
	want := map[string]string{
		sdp.AudioLevelURI:            "1",
		sdp.ABSSendTimeURI:           "2",
		sdp.TransportCCURI:           "3",
		sdp.SDESMidURI:               "4",
		sdp.SDESRTPStreamIDURI:       "10",
		sdp.SDESRepairRTPStreamIDURI: "11",
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`a=extmap:(\d+) (\S+)`).FindAllStringSubmatch(offer.SDP, -1) {
		id, uri := m[1], m[2]
		if w, ok := want[uri]; ok && w != id {
			t.Errorf("extmap %s has id %s, Chromium uses %s", uri, id, w)
		}
		seen[uri] = true
	}
	for uri := range want {
		if !seen[uri] {
			t.Errorf("the SFU does not offer %s", uri)
		}
	}
	if strings.Contains(offer.SDP, "urn:parley:unused") {
		t.Errorf("offer carries a placeholder extension:\n%s", offer.SDP)
	}
}
