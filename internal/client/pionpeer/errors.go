package pionpeer

import "errors"

var (
	// ErrUnknownKind is returned by ParseKind for anything but "audio" or
	// "video".
	ErrUnknownKind = errors.New("pionpeer: unknown media kind")

	// ErrUnknownPath is returned by ParsePath for anything but "none",
	// "mesh" or "sfu".
	ErrUnknownPath = errors.New("pionpeer: unknown media path")

	// ErrNoRoom is returned by Join when Config names no server, room or
	// display name.
	ErrNoRoom = errors.New("pionpeer: config needs URL, Room and Name")

	// ErrAudioPacketTime is returned by Join when Config.AudioPacketTime
	// is not a duration Opus can put in one frame.
	ErrAudioPacketTime = errors.New("pionpeer: audio packet time must be 2.5, 5, 10, 20, 40 or 60 ms")

	// ErrNoTrack is returned by SendPLI when nothing has been received
	// from that remote's video yet, so there is no SSRC to name.
	ErrNoTrack = errors.New("pionpeer: no video track from that participant")

	// errUnexpectedSFUSignal marks an SFU payload that docs/sfu.md rules
	// out; it is logged, never returned.
	errUnexpectedSFUSignal = errors.New("pionpeer: unexpected SFU signal")

	// ErrClosed is Err's value after Close.
	ErrClosed = errors.New("pionpeer: participant closed")
)
