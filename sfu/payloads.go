package sfu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
)

// The SFU signal payloads (docs/sfu.md). They travel inside signaling's
// {"type":"signal","to"/"from":"sfu","data":…}; this package sees only the
// data.

// maxStreamIDLen bounds the stream ids a client may announce in `media`.
// Browsers use 36-character UUIDs; 128 leaves room for other clients.
const maxStreamIDLen = 128

// clientSignal is every client→SFU payload; exactly one field is present.
// Fields are raw so that absent (nil) and null ("null") differ.
type clientSignal struct {
	Description json.RawMessage `json:"description"`
	Candidate   json.RawMessage `json:"candidate"`
	Media       json.RawMessage `json:"media"`
	View        json.RawMessage `json:"view"`
}

// sdpJSON is RTCSessionDescriptionInit.
type sdpJSON struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// mediaState is the client's `media` payload, as between mesh peers.
type mediaState struct {
	Camera string  `json:"camera"`
	Screen *string `json:"screen"`
	Mic    bool    `json:"mic"`
	Cam    bool    `json:"cam"`
}

func (m *mediaState) validate() error {
	ok := func(s string) bool { return len(s) <= maxStreamIDLen && utf8.ValidString(s) }
	if !ok(m.Camera) || (m.Screen != nil && !ok(*m.Screen)) {
		return fmt.Errorf("%w: media stream ids must be valid UTF-8 of at most %d bytes", ErrBadSignal, maxStreamIDLen)
	}
	return nil
}

// SFU→client payloads.
type (
	descriptionMsg struct {
		Description sdpJSON `json:"description"`
	}
	candidateMsg struct {
		Candidate *webrtc.ICECandidateInit `json:"candidate"` // nil: end of candidates
	}
	// tracksMsg maps every forwarded track of the coming offer to its
	// publisher; sent before each offer.
	tracksMsg struct {
		Tracks []trackInfo `json:"tracks"`
	}
	trackInfo struct {
		Peer   string `json:"peer"`
		Stream string `json:"stream"`
		Track  string `json:"track"`
		Kind   string `json:"kind"`
	}
	speakerMsg struct {
		Speaker string `json:"speaker"`
	}
	// layersMsg tells a publisher which simulcast layers of one of its
	// tracks some subscriber wants (dynacast): the others need not be
	// encoded.
	layersMsg struct {
		Layers layersInfo `json:"layers"`
	}
	layersInfo struct {
		Track  string   `json:"track"`  // the publisher's own track id
		Active []string `json:"active"` // RIDs to encode; the others may be paused
	}
	// mediaMsg relays a participant's `media` payload to the others.
	mediaMsg struct {
		Peer  string     `json:"peer"`
		Media mediaState `json:"media"`
	}
)

// mustJSON encodes one of the SFU's own payload types. They hold only
// strings, booleans, numbers and slices of those, for which encoding/json
// cannot fail (invalid UTF-8 is replaced, not refused), so an error is a
// programming bug.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sfu: encode %T: %v", v, err))
	}
	return b
}

// decodeSignal parses a client payload and checks it has exactly one of the
// known fields. Unknown extra fields are ignored, as everywhere in the
// protocol, so newer clients work with older servers.
func decodeSignal(data json.RawMessage) (clientSignal, error) {
	var cs clientSignal
	d := bytes.TrimSpace(data)
	if len(d) == 0 || d[0] != '{' {
		return cs, fmt.Errorf("%w: not a JSON object", ErrBadSignal)
	}
	if err := json.Unmarshal(d, &cs); err != nil {
		return cs, fmt.Errorf("%w: %v", ErrBadSignal, err)
	}
	n := 0
	for _, f := range [][]byte{cs.Description, cs.Candidate, cs.Media, cs.View} {
		if f != nil {
			n++
		}
	}
	if n != 1 {
		return cs, fmt.Errorf("%w: want exactly one of description, candidate, media, view", ErrBadSignal)
	}
	return cs, nil
}

// parseDescription turns a `description` into pion's type.
func parseDescription(raw json.RawMessage) (webrtc.SessionDescription, error) {
	var d sdpJSON
	if err := json.Unmarshal(raw, &d); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("%w: description: %v", ErrBadSignal, err)
	}
	t := webrtc.NewSDPType(d.Type)
	if t == webrtc.SDPTypeUnknown {
		return webrtc.SessionDescription{}, fmt.Errorf("%w: description type %q", ErrBadSignal, d.Type)
	}
	if t != webrtc.SDPTypeRollback && d.SDP == "" {
		return webrtc.SessionDescription{}, fmt.Errorf("%w: empty sdp", ErrBadSignal)
	}
	return webrtc.SessionDescription{Type: t, SDP: d.SDP}, nil
}
