package signaling

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEnvelopeKeysExact: keys are the documented ones, spelled exactly and
// once each (the fuzzer's `{"Type":"signal","TO":…}` was relayed before).
func TestEnvelopeKeysExact(t *testing.T) {
	for _, tc := range []struct{ frame, want string }{
		{`{"Type":"signal","to":"abc","data":1}`, `the protocol's is "type"`},
		{`{"type":"signal","TO":"abc","data":1}`, `the protocol's is "to"`},
		{`{"type":"signal","to":"abc","Data":1}`, `the protocol's is "data"`},
		{`{"type":"join","v":1,"room":"r","name":"A","avatar":"x"}`, `unknown key "avatar"`},
		{`{"type":"signal","to":"abc","to":"def","data":1}`, `"to" appears more than once`},
		{`{"type":"leave","type":"join"}`, `"type" appears more than once`},
		{`{"type":"leave"}{"type":"join"}`, "data after"},
		{`{"type":"leave"`, "unexpected end"},
		{`{"type" "leave"}`, "invalid JSON"},
		{`{"` + strings.Repeat("k", 100) + `":1}`, `unknown key "kkk`},
	} {
		_, perr := decode([]byte(tc.frame))
		if perr == nil || perr.Code != CodeBadJSON || !strings.Contains(perr.Message, tc.want) {
			t.Errorf("%.60s: %v, want bad-json containing %q", tc.frame, perr, tc.want)
		}
		if perr != nil && len(perr.Message) > 200 {
			t.Errorf("%.60s: message of %d bytes echoes the input", tc.frame, len(perr.Message))
		}
	}
	// What the protocol documents still decodes, white space included.
	for _, ok := range []string{
		` {"type":"signal", "to":"abc", "data":{"Any":"Case","inside":"data"}} ` + "\n",
		`{"type":"join","v":1,"room":"r","name":"A","password":"p","token":"t","resume":"x"}`,
		`{"type":"stats","decryptFailures":1,"decryptedFrames":2,"switchMs":3}`,
		`{"type":"moderate","action":"mute","to":"abc"}`,
		`{"type":"link-failed","peer":"abc"}`,
		`{"type":"key","data":1,"to":null}`,
	} {
		if _, perr := decode([]byte(ok)); perr != nil {
			t.Errorf("%s: %v", ok, perr)
		}
	}
}

// onlyDocumentedKeys reports whether frame's top-level keys are all keys
// of inbound, spelled exactly.
func onlyDocumentedKeys(frame []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(frame, &m) != nil {
		return false
	}
	for k := range m {
		if _, ok := inboundKeys()[k]; !ok {
			return false
		}
	}
	return true
}
