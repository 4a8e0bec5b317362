package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sfu"
)

// secret stands for what an SFU error's text may hold that a client must
// not see: internal ids, pion's parser messages.
const secret = "internal-detail-7f3a"

// fakeSignalError is the error the fake SFU session returns for a payload
// naming one: "bad" is a payload the SFU cannot parse, "err:<sentinel>" any
// of the sfu package's sentinels, "err:other" an error it does not wrap.
func fakeSignalError(d json.RawMessage) error {
	var s string
	if json.Unmarshal(d, &s) != nil {
		return nil
	}
	sentinels := map[string]error{
		"bad":             sfu.ErrBadSignal,
		"err:signal":      sfu.ErrBadSignal,
		"err:description": sfu.ErrBadDescription,
		"err:candidate":   sfu.ErrBadCandidate,
		"err:answer":      sfu.ErrUnexpectedAnswer,
		"err:tracks":      sfu.ErrTooManyTracks,
		"err:closed":      sfu.ErrClosed,
		"err:other":       errors.New("sfu: something broke"),
	}
	if e, ok := sentinels[s]; ok {
		return fmt.Errorf("sfu: signal from %s: %w", secret, e)
	}
	return nil
}

// TestSFUErrorsMapped: each SFU sentinel becomes its protocol code with a
// fixed message; the SFU's own text (ids, parser output) never reaches the
// client.
func TestSFUErrorsMapped(t *testing.T) {
	_, url := testHub(t, Options{SFU: &fakeSFU{}})
	a, _ := join(t, url, "s", "A")
	for payload, want := range map[string]Code{
		"err:signal": CodeBadField, "err:description": CodeBadField, "err:candidate": CodeBadField,
		"err:answer": CodeBadField, "err:tracks": CodeBadField,
		"err:closed": CodeInternal, "err:other": CodeInternal,
	} {
		a.send(map[string]any{"type": "signal", "to": "sfu", "data": payload})
		m := a.expectError(want)
		if strings.Contains(m.Message, secret) || strings.Contains(m.Message, "sfu: ") {
			t.Errorf("%s: the client sees the SFU's text: %q", payload, m.Message)
		}
		if !strings.Contains(m.Message, "SFU") { // web/js/call.js sfuRefusal
			t.Errorf("%s: message %q does not name the SFU", payload, m.Message)
		}
		if m.Ref != TypeSignal {
			t.Errorf("%s: ref %q", payload, m.Ref)
		}
	}
}
