package sfu

import "errors"

// Sentinel errors. Every error the package returns wraps one of these with
// context, so callers can map them to protocol error codes with errors.Is
// without parsing text: signaling does, in one place (sfuRefusal in
// signaling/sfuerrors.go), and logs the text instead of sending it.
var (
	// ErrClosed is returned when the Server or Session was closed: a
	// participant that left, or a server shutting down, takes no more
	// signals.
	ErrClosed = errors.New("sfu: closed")

	// ErrBadSignal means a client→SFU payload is not one of the documented
	// shapes (docs/sfu.md): the client, not the server, is at fault.
	ErrBadSignal = errors.New("sfu: bad signal payload")

	// ErrBadDescription means the PeerConnection refused an SDP offer or
	// answer (unparsable, or impossible in the current signalling state).
	ErrBadDescription = errors.New("sfu: bad session description")

	// ErrBadCandidate means an ICE candidate could not be parsed or added.
	ErrBadCandidate = errors.New("sfu: bad ICE candidate")

	// ErrUnexpectedAnswer means the client sent an answer while the SFU had
	// no offer outstanding (a stale answer after a timeout, or a confused
	// client). The answer is ignored.
	ErrUnexpectedAnswer = errors.New("sfu: answer without an outstanding offer")

	// ErrDuplicatePeer means Attach was called twice for the same
	// participant of a room without closing the first Session.
	ErrDuplicatePeer = errors.New("sfu: participant already attached")

	// ErrConfig means the Config cannot be used (bad IP, port out of
	// range).
	ErrConfig = errors.New("sfu: bad config")

	// ErrInvalid means Attach got an empty room, participant id or send
	// function: a bug in the caller, not in the client.
	ErrInvalid = errors.New("sfu: invalid argument")

	// ErrTooManyTracks means a participant publishes more tracks than
	// maxPublishedTracks; the extra track is not forwarded.
	ErrTooManyTracks = errors.New("sfu: too many published tracks")
)
