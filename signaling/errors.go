package signaling

import "fmt"

// Code is a stable, machine-readable refusal reason sent in `error`
// messages. docs/protocol.md lists every code and when it is sent.
type Code string

// The error codes of protocol version 1.
const (
	CodeBadJSON       Code = "bad-json"
	CodeUnknownType   Code = "unknown-type"
	CodeMissingField  Code = "missing-field"
	CodeBadField      Code = "bad-field"
	CodeBadVersion    Code = "bad-version"
	CodeBadRoom       Code = "bad-room"
	CodeBadName       Code = "bad-name"
	CodeNotJoined     Code = "not-joined"
	CodeAlreadyJoined Code = "already-joined"
	CodeUnknownPeer   Code = "unknown-peer"
	CodeRoomFull      Code = "room-full"
	CodeRateLimited   Code = "rate-limited"
	CodeTooLarge      Code = "too-large"
	CodeInternal      Code = "internal"
	CodeKicked        Code = "kicked"
	CodeRoomClosed    Code = "room-closed"
	CodeForbidden     Code = "forbidden"

	// Access control (docs/access.md).
	CodePasswordRequired Code = "password-required"
	CodeBadPassword      Code = "bad-password"
	CodeBadToken         Code = "bad-token"
	CodeTokenRequired    Code = "token-required"
)

// ProtocolError is a refusal of one client message: it becomes an `error`
// message to that client and never disturbs anyone else.
type ProtocolError struct {
	Code    Code
	Message string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

func protoErr(code Code, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Message: fmt.Sprintf(format, args...)}
}
