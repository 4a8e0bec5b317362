package signaling

import (
	"errors"

	"github.com/parleyhq/parley/sfu"
)

// sfuRefusal is the one place where an error of the SFU becomes a protocol
// error, by its sentinel (sfu/errors.go). The client gets a fixed message
// for each: the SFU's text names internal state (participant ids, pion's
// parser errors) that is not the client's business, so it goes to the log
// instead. clientFault says the client, not the server, is to blame: its
// log line is debug, not a warning, since anyone can send bad SDP. Every
// message names the SFU: that is how the web client (sfuRefusal in
// web/js/call.js) tells these from refusals a person must see.
//
// Signaling imports sfu for these sentinel errors only; the two talk
// through the SFU interface (sfu.go).
func sfuRefusal(err error) (perr *ProtocolError, clientFault bool) {
	switch {
	case errors.Is(err, sfu.ErrBadSignal):
		return protoErr(CodeBadField, "the SFU refused this payload: it is not one of the shapes docs/sfu.md describes"), true
	case errors.Is(err, sfu.ErrBadDescription):
		return protoErr(CodeBadField, "the SFU refused this session description"), true
	case errors.Is(err, sfu.ErrBadCandidate):
		return protoErr(CodeBadField, "the SFU refused this ICE candidate"), true
	case errors.Is(err, sfu.ErrUnexpectedAnswer):
		return protoErr(CodeBadField, "the SFU had no offer waiting for this answer; it was ignored"), true
	case errors.Is(err, sfu.ErrTooManyTracks):
		return protoErr(CodeBadField, "the SFU forwards no more tracks from you: too many published"), true
	case errors.Is(err, sfu.ErrClosed):
		return protoErr(CodeInternal, "your SFU connection has closed"), false
	}
	return protoErr(CodeInternal, "the SFU could not process this signal"), false
}
