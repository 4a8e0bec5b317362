package pionpeer

import "fmt"

// Path is the way media from one remote participant reaches this one: a
// direct mesh connection, or the server's SFU. It is its own type so that
// statistics and RemoteInfo cannot hold anything else.
type Path int

// The media paths.
const (
	// PathNone: nothing has arrived from the remote yet on the path the
	// room's mode calls for.
	PathNone Path = iota
	// PathMesh: the remote's media comes over a PeerConnection to it.
	PathMesh
	// PathSFU: the remote's media comes forwarded by the SFU.
	PathSFU
)

func (p Path) String() string {
	switch p {
	case PathNone:
		return "none"
	case PathMesh:
		return "mesh"
	case PathSFU:
		return "sfu"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// ParsePath is the inverse of String.
func ParsePath(s string) (Path, error) {
	for _, p := range []Path{PathNone, PathMesh, PathSFU} {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownPath, s)
}

// Room modes as docs/protocol.md spells them in welcome and mode.
const (
	modeMesh = "mesh"
	modeSFU  = "sfu"
)

// sfuPeerID is the reserved recipient of signals to the SFU
// (docs/protocol.md "signal").
const sfuPeerID = "sfu"
