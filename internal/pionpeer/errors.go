package pionpeer

import "errors"

var (
	// ErrUnknownKind is returned by ParseKind for anything but "audio" or
	// "video".
	ErrUnknownKind = errors.New("pionpeer: unknown media kind")

	// ErrNoRoom is returned by Join when Config names no server, room or
	// display name.
	ErrNoRoom = errors.New("pionpeer: config needs URL, Room and Name")

	// ErrClosed is Err's value after Close.
	ErrClosed = errors.New("pionpeer: participant closed")
)
