package sigclient

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by calls on a Client that Close has ended, and is
	// Err's value after a Close: nothing went wrong, the caller hung up.
	ErrClosed = errors.New("sigclient: client closed")

	// ErrConnectionLost is Err's value when the connection ended for a reason
	// other than Close or a WebSocket close frame (reset, EOF, read timeout);
	// the underlying error is wrapped with it.
	ErrConnectionLost = errors.New("sigclient: connection lost")

	// ErrDropped is wrapped in Err (with ErrConnectionLost) after Drop:
	// the test cut the connection on purpose.
	ErrDropped = errors.New("sigclient: connection dropped on purpose")

	// ErrUnexpectedReply is returned by Join when the server answers with
	// something that is neither `welcome` nor `error`.
	ErrUnexpectedReply = errors.New("sigclient: unexpected reply to join")
)

// ProtocolError is a refusal from the server: an `error` message
// (docs/protocol.md, "Error codes"). Join returns it when the server refuses
// the join, so callers can branch on Code (for example "room-full") without
// parsing text.
type ProtocolError struct {
	// Code is the stable machine code, such as "room-full" or "bad-name".
	Code string
	// Message is the server's human-readable explanation.
	Message string
	// Ref names the type of the message that caused the refusal, when the
	// server knows it.
	Ref string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("sigclient: server refused %s: %s: %s", refOrMessage(e.Ref), e.Code, e.Message)
}

func refOrMessage(ref string) string {
	if ref == "" {
		return "message"
	}
	return ref
}

// HandshakeError is returned by Connect and Dial when the HTTP upgrade to
// WebSocket was answered with a non-101 status (for example 403 when the
// Origin check refuses the request).
type HandshakeError struct {
	// StatusCode is the HTTP status the server answered with.
	StatusCode int
	// Err is gorilla/websocket's error.
	Err error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("sigclient: websocket handshake refused with HTTP %d: %v", e.StatusCode, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }
