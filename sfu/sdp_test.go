package sfu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// The SFU's own descriptions must be valid for Firefox and Chromium before
// any client repair: web/js/sdp.js drops a=rtpmap, a=fmtp and a=rtcp-fb
// lines whose payload type is not on their m= line (Chromium 156 refuses a
// whole description with one such line, and Firefox ESR 153 writes them
// after setCodecPreferences; docs/browsers.md). These tests hold pion's
// answers and offers to the same rule, with the browsers' recorded offers
// (web/testdata/sdp, the fixtures of web/js/sdp.test.js) as input.

// strayFormats lists the lines of sdp that name a payload type their RTP
// m= line does not list: per-format attributes (RFC 4566 §6, RFC 4585
// §4.2) and RTX formats whose apt names an absent type. Sections that are
// not RTP (m=application) are not checked; "a=rtcp-fb:*" applies to all.
func strayFormats(sdp string) []string {
	var stray []string
	var formats map[string]bool // nil outside an RTP section
	for line := range strings.SplitSeq(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(line, "m=") {
			formats = nil
			if f := strings.Fields(line); len(f) >= 3 && strings.Contains(f[2], "RTP") {
				formats = map[string]bool{}
				for _, pt := range f[3:] {
					formats[pt] = true
				}
			}
			continue
		}
		if formats == nil {
			continue
		}
		for _, attr := range []string{"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"} {
			rest, ok := strings.CutPrefix(line, attr)
			if !ok {
				continue
			}
			pt, params, _ := strings.Cut(rest, " ")
			if pt != "*" && !formats[pt] {
				stray = append(stray, line)
			}
			if attr == "a=fmtp:" {
				for p := range strings.SplitSeq(params, ";") {
					if apt, ok := strings.CutPrefix(strings.TrimSpace(p), "apt="); ok && !formats[apt] {
						stray = append(stray, line+" (apt)")
					}
				}
			}
		}
	}
	return stray
}

func TestStrayFormatsFindsFirefoxLines(t *testing.T) {
	// The checker itself, on the recorded Firefox offer that Chromium
	// refused (rtcp-fb lines of 121, 122, 123 and 99 for "m=video … 120 124").
	raw, err := os.ReadFile(filepath.Join("..", "web", "testdata", "sdp", "firefox-offer-prefs.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strayFormats(string(raw)); len(got) == 0 {
		t.Fatal("no stray lines found in Firefox's offer after setCodecPreferences; the checker misses what Chromium refuses")
	}
	if got := strayFormats("m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:* nack\r\na=fmtp:97 apt=96\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fmtp:5000 x\r\n"); len(got) != 0 {
		t.Errorf("valid SDP flagged: %q", got)
	}
}

// sdpSession attaches a participant whose signaling is the test: every
// description the SFU sends it arrives on the returned channel.
func sdpSession(t *testing.T, s *Server, room, id string) (*Session, <-chan webrtc.SessionDescription) {
	t.Helper()
	descs := make(chan webrtc.SessionDescription, 16)
	ss, err := s.Attach(room, id, func(d json.RawMessage) {
		var m struct {
			Description *webrtc.SessionDescription `json:"description"`
		}
		if json.Unmarshal(d, &m) == nil && m.Description != nil {
			select {
			case descs <- *m.Description:
			default:
			}
		}
	}, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.Close)
	return ss, descs
}

// nextDescription waits for the SFU's next description of type typ.
func nextDescription(t *testing.T, descs <-chan webrtc.SessionDescription, typ webrtc.SDPType) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case d := <-descs:
			if d.Type == typ {
				return d.SDP
			}
		case <-deadline:
			t.Fatalf("no %s from the SFU within 10 s", typ)
		}
	}
}

// TestSFUDescriptionsHaveNoStrayFormats: the SFU's answer to each recorded
// browser offer (Chromium and Firefox, with and without E2EE's codec
// preferences, as recorded: Firefox's with its stray lines), and the
// offer it then makes to forward another participant's camera and
// microphone, list an attribute only for a payload type on its m= line.
func TestSFUDescriptionsHaveNoStrayFormats(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	for _, name := range []string{"chromium-offer-plain", "chromium-offer-prefs", "firefox-offer-plain", "firefox-offer-prefs"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "web", "testdata", "sdp", name+".sdp"))
			if err != nil {
				t.Fatal(err)
			}
			room := "sdp-" + name
			ss, descs := sdpSession(t, s, room, "browser")
			offer, _ := json.Marshal(map[string]any{"description": webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(raw)}})
			if err := ss.Signal(offer); err != nil {
				t.Fatalf("the SFU refused the recorded offer: %v", err)
			}
			answer := nextDescription(t, descs, webrtc.SDPTypeAnswer)
			if !strings.Contains(answer, "a=rtpmap:") {
				t.Fatalf("the SFU's answer has no codecs to check:\n%s", answer)
			}
			if stray := strayFormats(answer); len(stray) > 0 {
				t.Errorf("the SFU's answer to %s names payload types absent from their m= line:\n%s\nanswer:\n%s", name, strings.Join(stray, "\n"), answer)
			}
			// Another participant publishes: the SFU offers its tracks.
			join(t, s, room, "pub", clientOptions{publish: true})
			sfuOffer := nextDescription(t, descs, webrtc.SDPTypeOffer)
			if !strings.Contains(sfuOffer, "stream-pub") {
				t.Errorf("the SFU's offer does not forward pub's tracks:\n%s", sfuOffer)
			}
			if stray := strayFormats(sfuOffer); len(stray) > 0 {
				t.Errorf("the SFU's offer to %s names payload types absent from their m= line:\n%s\noffer:\n%s", name, strings.Join(stray, "\n"), sfuOffer)
			}
		})
	}
}
