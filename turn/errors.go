package turn

import "errors"

var (
	// ErrAlreadyStarted is returned by Start on a Server that was started
	// before: a Server listens once.
	ErrAlreadyStarted = errors.New("turn: server already started")

	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("turn: server closed")

	// ErrInvalidConfig wraps every configuration error New returns, so the
	// caller can tell a bad config file from a failure to listen.
	ErrInvalidConfig = errors.New("turn: invalid configuration")

	// ErrMalformedUsername means a TURN username is not
	// "<unix-expiry>:<peerId>" (draft-uberti-behave-turn-rest).
	ErrMalformedUsername = errors.New("turn: username is not <unix-expiry>:<peerId>")

	// ErrTCPRelayRefused is what the relay generator answers to RFC 6062
	// TCP allocations and Connect requests: browsers never use them, and
	// they would turn the relay into a TCP proxy. pion/turn maps it to 508.
	ErrTCPRelayRefused = errors.New("turn: TCP relay allocations (RFC 6062) are not offered")

	// ErrAddressFamily means a client asked for a relay address of a family
	// (IPv4/IPv6) the server does not relay on.
	ErrAddressFamily = errors.New("turn: relay address family not offered")

	// ErrCapacity means the server-wide allocation cap is reached; pion/turn
	// answers 508 Insufficient Capacity.
	ErrCapacity = errors.New("turn: allocation capacity reached")

	// ErrNoRelayPort means no port of the relay range could be bound.
	ErrNoRelayPort = errors.New("turn: no free port in the relay range")

	// ErrSelfPort is returned by the relay socket when a client tries to
	// relay to the server's own address on a port other than the relay
	// range and the configured SelfPorts (admin, SSH, the TURN port itself).
	ErrSelfPort = errors.New("turn: relaying to this port of the server itself is not allowed")

	// ErrNotUDPAddr is returned by the relay socket for a destination that
	// is not a *net.UDPAddr; pion/turn always passes one.
	ErrNotUDPAddr = errors.New("turn: relay destination is not a UDP address")
)
