package signaling

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ProtocolVersion is the `v` a client must send in `join`.
const ProtocolVersion = 1

// Limits of protocol version 1; docs/protocol.md explains each value.
const (
	MaxMessageBytes = 64 << 10 // largest frame accepted but for MaxSFUSignalBytes; a mesh SDP is ~5 KiB
	MaxNameRunes    = 64       // a display name fits a tile label

	// MaxSFUSignalBytes bounds a `signal` to the SFU, the one message that
	// grows with the room: a browser's answer to the SFU's offer holds an
	// m-line of ≈0.75 KiB for every forwarded track, so 40 participants
	// with camera and microphone already pass 64 KiB, and RoomMax (100) with
	// a screen share each needs ≈230 KiB.
	MaxSFUSignalBytes = 512 << 10
)

// SFUPeerID is the reserved `to`/`from` id of the server's SFU.
const SFUPeerID = "sfu"

// Message types, client → server and server → client.
const (
	TypeJoin           = "join"
	TypeSignal         = "signal"
	TypeKey            = "key"
	TypeLeave          = "leave"
	TypeStats          = "stats"
	TypeModerate       = "moderate"
	TypeWelcome        = "welcome"
	TypePeerJoined     = "peer-joined"
	TypePeerLeft       = "peer-left"
	TypePeerAway       = "peer-away"
	TypePeerBack       = "peer-back"
	TypeMode           = "mode"
	TypeError          = "error"
	TypeServerShutdown = "server-shutdown"
	TypeMuted          = "muted"
)

var roomNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidRoomName reports whether s may name a room: [A-Za-z0-9_-]{1,64},
// safe in URLs and logs.
func ValidRoomName(s string) bool { return roomNameRE.MatchString(s) }

// inbound is any client message. Fields stay raw until the message's type
// says which are required, so each refusal can name the field at fault.
// Their `json` names are the only keys a client message may carry
// (envelope.go).
type inbound struct {
	Type json.RawMessage `json:"type"`
	V    json.RawMessage `json:"v"`
	Room json.RawMessage `json:"room"`
	Name json.RawMessage `json:"name"`
	To   json.RawMessage `json:"to"`
	Data json.RawMessage `json:"data"`

	// moderate's action (moderate.go)
	Action json.RawMessage `json:"action"`

	// join's credentials (docs/access.md)
	Password json.RawMessage `json:"password"`
	Token    json.RawMessage `json:"token"`
	// join's resume token from the last welcome (resume.go)
	Resume json.RawMessage `json:"resume"`

	// stats (client health report)
	DecryptFailures json.RawMessage `json:"decryptFailures"`
	DecryptedFrames json.RawMessage `json:"decryptedFrames"`
	SwitchMs        json.RawMessage `json:"switchMs"`

	// stats: frames that failed before their sender's key arrived (normal)
	DecryptFailuresBeforeKey json.RawMessage `json:"decryptFailuresBeforeKey"`

	// link-failed's peer (linkfailed.go)
	Peer json.RawMessage `json:"peer"`

	// mls (mls.go)
	Kind    json.RawMessage `json:"kind"`
	Epoch   json.RawMessage `json:"epoch"`
	Proof   json.RawMessage `json:"proof"`
	Welcome json.RawMessage `json:"welcome"`
}

// Bounds of join credentials and stats reports.
const (
	maxPasswordBytes = 1024    // bcrypt reads 72 bytes; the rest is noise
	maxTokenBytes    = 8192    // a JWT with the four claims is ~300 bytes
	maxStatsCount    = 1 << 20 // per report: a frame rate of 1000 for 15 min
)

// request is a decoded, validated client message.
type request struct {
	typ  string
	room string
	name string
	to   string
	data json.RawMessage

	password, token string      // join
	resume          string      // join
	action          string      // moderate
	stats           ClientStats // stats
	mls             mlsReq      // mls
}

// decode parses and validates one client frame.
func decode(frame []byte) (request, *ProtocolError) {
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return request{}, protoErr(CodeBadJSON, "a message must be a JSON object")
	}
	// encoding/json keeps invalid UTF-8 inside strings, and relayed data is
	// passed on as it came: one such frame would make every browser that
	// receives it fail its WebSocket (RFC 6455 §8.1).
	if !utf8.Valid(frame) {
		return request{}, protoErr(CodeBadJSON, "a message must be valid UTF-8")
	}
	var in inbound
	if perr := decodeEnvelope(frame, &in); perr != nil {
		return request{}, perr
	}
	typ, perr := stringField(in.Type, "type", true)
	if perr != nil {
		if perr.Code == CodeMissingField {
			perr.Code = CodeUnknownType
			perr.Message = "message has no type"
		}
		return request{}, perr
	}
	req := request{typ: typ}
	switch typ {
	case TypeJoin:
		return decodeJoin(in, req)
	case TypeSignal, TypeKey:
		if req.to, perr = stringField(in.To, "to", typ == TypeSignal); perr != nil {
			return req, perr
		}
		if len(in.Data) == 0 || string(in.Data) == "null" {
			return req, protoErr(CodeMissingField, "%s needs a data field", typ)
		}
		req.data = in.Data
		return req, nil
	case TypeLeave:
		return req, nil
	case TypeStats:
		return decodeStats(in, req)
	case TypeModerate:
		return decodeModerate(in, req)
	case TypeMLS:
		return decodeMLS(in, req)
	case TypeLinkFailed:
		return decodeLinkFailed(in, req)
	}
	return req, protoErr(CodeUnknownType, "unknown message type %q", truncate(typ, 32))
}

func decodeJoin(in inbound, req request) (request, *ProtocolError) {
	if len(in.V) == 0 {
		return req, protoErr(CodeMissingField, "join needs v (the protocol version, %d)", ProtocolVersion)
	}
	var v float64
	if err := json.Unmarshal(in.V, &v); err != nil {
		return req, protoErr(CodeBadField, "v must be a number")
	}
	if v != ProtocolVersion {
		return req, protoErr(CodeBadVersion, "protocol version %v is not supported; this server speaks %d", v, ProtocolVersion)
	}
	var perr *ProtocolError
	if req.room, perr = stringField(in.Room, "room", true); perr != nil {
		return req, perr
	}
	if !ValidRoomName(req.room) {
		return req, protoErr(CodeBadRoom, "room names are 1 to 64 letters, digits, - or _")
	}
	if req.name, perr = stringField(in.Name, "name", true); perr != nil {
		if perr.Code == CodeMissingField {
			perr.Code = CodeBadName
			perr.Message = "a display name is required"
		}
		return req, perr
	}
	name, err := cleanName(req.name)
	if err != nil {
		return req, err
	}
	req.name = name
	if req.password, perr = stringField(in.Password, "password", false); perr != nil {
		return req, perr
	}
	if req.token, perr = stringField(in.Token, "token", false); perr != nil {
		return req, perr
	}
	if len(req.password) > maxPasswordBytes || len(req.token) > maxTokenBytes {
		return req, protoErr(CodeBadField, "password or token is too long")
	}
	if req.resume, perr = stringField(in.Resume, "resume", false); perr != nil {
		return req, perr
	}
	if len(req.resume) > 64 {
		return req, protoErr(CodeBadField, "resume token is too long")
	}
	return req, nil
}

// decodeStats reads a client's health report: optional counts, each a
// whole number in 0..2^20.
func decodeStats(in inbound, req request) (request, *ProtocolError) {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *uint64
	}{
		{"decryptFailures", in.DecryptFailures, &req.stats.DecryptFailures},
		{"decryptedFrames", in.DecryptedFrames, &req.stats.DecryptedFrames},
		{"decryptFailuresBeforeKey", in.DecryptFailuresBeforeKey, &req.stats.DecryptFailuresBeforeKey},
		{"switchMs", in.SwitchMs, &req.stats.SwitchMillis},
	} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		var n float64
		if err := json.Unmarshal(f.raw, &n); err != nil || n < 0 || n > maxStatsCount || n != float64(uint64(n)) {
			return req, protoErr(CodeBadField, "%s must be a whole number from 0 to %d", f.name, maxStatsCount)
		}
		*f.dst = uint64(n)
	}
	return req, nil
}

// cleanName trims a display name and refuses what cannot be shown safely.
func cleanName(s string) (string, *ProtocolError) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", protoErr(CodeBadName, "a display name is required")
	case n > MaxNameRunes:
		return "", protoErr(CodeBadName, "a display name is at most %d characters (this one has %d)", MaxNameRunes, n)
	}
	for _, r := range s {
		// Control characters and bidi overrides would let a name rewrite
		// how other names and the UI around it are displayed.
		if unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return "", protoErr(CodeBadName, "a display name may not contain control characters")
		}
	}
	if !hasVisible(s) {
		return "", protoErr(CodeBadName, "a display name needs at least one visible character")
	}
	return s, nil
}

// hasVisible reports whether s holds a character that draws something: a
// letter, digit, punctuation mark or symbol. Spaces, format characters
// (U+200B, U+FEFF, LRM, RLM, …) and marks alone draw nothing, and a few
// letters and symbols are blank by design (the Hangul fillers, U+2800
// BRAILLE PATTERN BLANK): a name of only those renders as an empty tile
// label that impersonates nobody and cannot be told apart. web/js/rooms.js
// (nameProblem) applies the same rule.
func hasVisible(s string) bool {
	for _, r := range s {
		switch r {
		case 0x115f, 0x1160, 0x3164, 0xffa0, 0x2800:
			continue
		}
		if unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) {
			return true
		}
	}
	return false
}

// stringField decodes a JSON string field. A missing or empty field is
// CodeMissingField when required; a non-string is CodeBadField.
func stringField(raw json.RawMessage, name string, required bool) (string, *ProtocolError) {
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return "", protoErr(CodeMissingField, "missing field %q", name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", protoErr(CodeBadField, "field %q must be a string", name)
	}
	if s == "" && required {
		return "", protoErr(CodeMissingField, "field %q is empty", name)
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Peer identifies a participant to the others.
type Peer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Viewer: its join token denies publishing. The SFU forwards none of
	// its media; in a mesh, clients must ignore media from it.
	Viewer bool `json:"viewer,omitempty"`
	// Moderator: its join token grants admin, so it may send `moderate`.
	Moderator bool `json:"moderator,omitempty"`
}

// ICEServer is an RTCIceServer as the browser's RTCPeerConnection takes it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Limits tells a client the bounds it must respect.
type Limits struct {
	MeshMax         int   `json:"meshMax"`
	MaxMessageBytes int   `json:"maxMessageBytes"`
	MaxSFUSignal    int   `json:"maxSfuSignalBytes"` // a signal to the SFU may be this large
	MaxNameLength   int   `json:"maxNameLength"`
	MaxFileBytes    int64 `json:"maxFileBytes"` // the largest file clients offer or accept (docs/datachannels.md)
}

type welcomeMsg struct {
	Type       string      `json:"type"`
	V          int         `json:"v"`
	ID         string      `json:"id"`
	Room       string      `json:"room"`
	Name       string      `json:"name"`
	Peers      []Peer      `json:"peers"`
	Mode       Mode        `json:"mode"`
	Policy     Policy      `json:"policy"`
	ICEServers []ICEServer `json:"iceServers"`
	Limits     Limits      `json:"limits"`
	// Permissions are set when a join token granted them (docs/access.md).
	Permissions *Permissions `json:"permissions,omitempty"`
	// Resume lets a new connection take this participant over after a
	// dropped one; Resumed says this welcome is such a take-over.
	Resume  string `json:"resume,omitempty"`
	Resumed bool   `json:"resumed,omitempty"`
	// MLS says whether the room has an MLS group to join (mls.go).
	MLS MLSState `json:"mls"`

	// E2EE is false only in a room an administrator allowed unencrypted
	// (e2ee.go); clients treat a missing field as true.
	E2EE bool `json:"e2ee"`
}

type peerMsg struct {
	Type   string `json:"type"`
	Peer   Peer   `json:"peer"`
	Reason string `json:"reason,omitempty"`
}

type relayMsg struct {
	Type string          `json:"type"`
	From string          `json:"from"`
	Data json.RawMessage `json:"data"`
}

type modeMsg struct {
	Type   string `json:"type"`
	Mode   Mode   `json:"mode"`
	Policy Policy `json:"policy"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

type shutdownMsg struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Reconnect bool   `json:"reconnect"`
}

// encode marshals a server message. The types above cannot fail to
// marshal except for relayed data, which decode already validated.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(errorMsg{Type: TypeError, Code: CodeInternal, Message: "could not encode message"})
	}
	return b
}
