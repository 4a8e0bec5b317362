package sfu

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzSignal feeds arbitrary client payloads to a live Session: whatever a
// client sends, Signal returns nil or one of the package's errors, and never
// panics. Run with: go test -run '^$' -fuzz FuzzSignal ./sfu
func FuzzSignal(f *testing.F) {
	for _, seed := range []string{
		`{"candidate":null}`,
		`{"candidate":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"candidate":{"candidate":"candidate:x"}}`,
		`{"description":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n"}}`,
		`{"description":{"type":"answer","sdp":"v=0"}}`,
		`{"media":{"camera":"a","screen":"b","mic":true,"cam":false}}`,
		`{"media":null}`,
		`{"description":null}`,
		`{"tracks":[]}`,
		`null`,
		`{"description":{"type":"offer","sdp":"m=video 0 RTP/AVP 0\r\n"}}`,
	} {
		f.Add([]byte(seed))
	}
	s := newTestServer(f)
	known := []error{ErrBadSignal, ErrBadDescription, ErrBadCandidate, ErrUnexpectedAnswer, ErrClosed}
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, err := s.Attach("fuzz", "p", func(json.RawMessage) {}, AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer ss.Close()
		err = ss.Signal(data)
		if err == nil {
			return
		}
		for _, k := range known {
			if errors.Is(err, k) {
				return
			}
		}
		t.Errorf("Signal(%q) = %v: not one of the package's errors", data, err)
	})
}
