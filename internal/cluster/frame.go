package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/parleyhq/parley/signaling"
)

// A frame on a link subject is one byte of kind, then for a close frame two
// bytes of close code (big endian), then the payload: the relayed WebSocket
// message as the browser sent it, or the close reason. No JSON around it, so
// relaying costs a copy, not a parse.

// encodeFrame is f as a NATS message body.
func encodeFrame(f signaling.Frame) []byte {
	if f.Kind == signaling.FrameClose {
		b := make([]byte, 3, 3+len(f.Data))
		b[0] = byte(f.Kind)
		binary.BigEndian.PutUint16(b[1:], uint16(f.Code))
		return append(b, f.Data...)
	}
	b := make([]byte, 1, 1+len(f.Data))
	b[0] = byte(f.Kind)
	return append(b, f.Data...)
}

// decodeFrame parses a NATS message body; anything else is ErrBadFrame.
func decodeFrame(b []byte) (signaling.Frame, error) {
	if len(b) == 0 {
		return signaling.Frame{}, fmt.Errorf("%w: empty", ErrBadFrame)
	}
	k := signaling.FrameKind(b[0])
	switch k {
	case signaling.FrameText, signaling.FrameBinary:
		return signaling.Frame{Kind: k, Data: b[1:]}, nil
	case signaling.FramePing, signaling.FramePong, signaling.FrameGone, signaling.FrameLost:
		if len(b) != 1 {
			return signaling.Frame{}, fmt.Errorf("%w: %d bytes after a control frame", ErrBadFrame, len(b)-1)
		}
		return signaling.Frame{Kind: k}, nil
	case signaling.FrameClose:
		if len(b) < 3 {
			return signaling.Frame{}, fmt.Errorf("%w: close frame without a code", ErrBadFrame)
		}
		return signaling.Frame{Kind: k, Code: int(binary.BigEndian.Uint16(b[1:])), Data: b[3:]}, nil
	}
	return signaling.Frame{}, fmt.Errorf("%w: unknown kind %d", ErrBadFrame, b[0])
}
