package cluster

import "errors"

// Errors of the cluster package.
var (
	// ErrNotReady means the room directory is not reachable yet (the
	// embedded NATS cluster is still forming, or lost its quorum).
	ErrNotReady = errors.New("cluster: room directory not ready")
	// ErrLinkClosed is returned by a link's Send after Close.
	ErrLinkClosed = errors.New("cluster: link closed")
	// ErrBadFrame means a message on a Parley subject did not decode.
	ErrBadFrame = errors.New("cluster: malformed frame")
	// ErrInsecureSecret means the route secret file may be read by others.
	ErrInsecureSecret = errors.New("cluster: secret file is readable by group or others")
	// ErrNodeRefused means a node declined to place a room or take a link.
	ErrNodeRefused = errors.New("cluster: node refused")
)
