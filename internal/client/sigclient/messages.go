package sigclient

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ProtocolVersion is the version this client speaks (`v` in join/welcome).
const ProtocolVersion = 1

// Message types of docs/protocol.md. They are repeated here rather than
// imported from the server's package so that the client is an independent
// implementation of the written contract: a test using it checks the server
// against the document, not against itself.
const (
	TypeJoin           = "join"
	TypeSignal         = "signal"
	TypeKey            = "key"
	TypeLeave          = "leave"
	TypeWelcome        = "welcome"
	TypePeerJoined     = "peer-joined"
	TypePeerLeft       = "peer-left"
	TypePeerAway       = "peer-away"
	TypePeerBack       = "peer-back"
	TypeMode           = "mode"
	TypeError          = "error"
	TypeServerShutdown = "server-shutdown"
)

// Peer is another participant as the server describes it.
type Peer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Viewer and Moderator come from the participant's join token
	// (docs/protocol.md): a viewer's media must be ignored.
	Viewer    bool `json:"viewer,omitempty"`
	Moderator bool `json:"moderator,omitempty"`
}

// URLs is the `urls` member of an RTCIceServer. The protocol sends an array,
// but WebRTC also allows a single string, so both decode.
type URLs []string

// UnmarshalJSON accepts a string or an array of strings.
func (u *URLs) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("sigclient: decode ICE server url: %w", err)
		}
		*u = URLs{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("sigclient: decode ICE server urls: %w", err)
	}
	*u = list
	return nil
}

// ICEServer is an RTCIceServer from `welcome`, with fresh TURN credentials.
type ICEServer struct {
	URLs       URLs   `json:"urls"`
	Username   string `json:"username,omitempty"`
	Credential string `json:"credential,omitempty"`
}

// Limits are the bounds the server announces in `welcome`.
type Limits struct {
	MeshMax         int `json:"meshMax"`
	MaxMessageBytes int `json:"maxMessageBytes"`
	MaxNameLength   int `json:"maxNameLength"`
}

// Welcome is the server's answer to a successful join.
type Welcome struct {
	V          int         `json:"v"`
	ID         string      `json:"id"`
	Room       string      `json:"room"`
	Name       string      `json:"name"`
	Peers      []Peer      `json:"peers"`
	Mode       string      `json:"mode"`
	Policy     string      `json:"policy"`
	ICEServers []ICEServer `json:"iceServers"`
	Limits     Limits      `json:"limits"`
	// Resume is the secret a later connection sends (WithResume, Resume)
	// to come back as this participant after this one drops; a new one
	// in every welcome, each valid once. Never log it.
	Resume string `json:"resume,omitempty"`
	// Resumed says this welcome answers a join with a valid resume token:
	// the id is the old one, and the messages queued meanwhile follow.
	Resumed bool `json:"resumed,omitempty"`
	// E2EE is false in a room an administrator allowed unencrypted
	// (docs/e2ee.md "Unencrypted rooms"); nil when the server did not say,
	// which clients take as encrypted. sigclient's users (pion) do not
	// encrypt: a browser in the same room decodes their media only when
	// it is false.
	E2EE *bool `json:"e2ee"`
}

// Event is one server message other than the `welcome` (or refusal) that
// answers Join. It is a union: which fields are set depends on Type, as in
// docs/protocol.md "Server → client". Keeping one flat struct costs a few
// empty fields and spares every consumer a type switch over pointers.
type Event struct {
	// Type is the message type, such as TypePeerJoined. It is empty when
	// the server sent something that is not a JSON object with a string
	// type; Raw then holds what was received.
	Type string `json:"type"`

	// Peer is set on peer-joined, peer-left, peer-away and peer-back.
	Peer Peer `json:"peer"`
	// Reason is set on peer-left (left, timeout, kicked or closed) and
	// on peer-away (timeout or closed).
	Reason string `json:"reason,omitempty"`

	// From is the sender of a relayed signal or key.
	From string `json:"from,omitempty"`
	// Data is the opaque payload of a signal or key.
	Data json.RawMessage `json:"data,omitempty"`

	// Mode and Policy are set on mode.
	Mode   string `json:"mode,omitempty"`
	Policy string `json:"policy,omitempty"`

	// Code, Message and Ref are set on error; Message also on
	// server-shutdown.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Ref     string `json:"ref,omitempty"`

	// Reconnect is set on server-shutdown.
	Reconnect bool `json:"reconnect,omitempty"`

	// Raw is the frame exactly as received, for protocol tests.
	Raw []byte `json:"-"`
}

// ProtocolError returns the refusal an error event carries, or nil for any
// other event.
func (e Event) ProtocolError() *ProtocolError {
	if e.Type != TypeError {
		return nil
	}
	return &ProtocolError{Code: e.Code, Message: e.Message, Ref: e.Ref}
}

// Client → server messages. Field order and names follow docs/protocol.md.
type (
	joinMsg struct {
		Type string `json:"type"`
		V    int    `json:"v"`
		Room string `json:"room"`
		Name string `json:"name"`
		// Resume is omitted when empty: an empty token is not a
		// token.
		Resume string `json:"resume,omitempty"`
		// Token is a signed join token (docs/access.md); omitted when
		// empty.
		Token string `json:"token,omitempty"`
	}
	signalMsg struct {
		Type string `json:"type"`
		To   string `json:"to"`
		Data any    `json:"data"`
	}
	keyMsg struct {
		Type string `json:"type"`
		To   string `json:"to,omitempty"`
		Data any    `json:"data"`
	}
	leaveMsg struct {
		Type string `json:"type"`
	}
)
