package sigclient

import (
	"net/http"
	"time"
)

// Defaults, each chosen against docs/protocol.md's limits.
const (
	// defaultHandshakeTimeout bounds the WebSocket upgrade plus the
	// join → welcome exchange; a healthy server on loopback needs
	// milliseconds, a loaded one a second or two.
	defaultHandshakeTimeout = 10 * time.Second

	// defaultReadTimeout is how long the client waits without any frame
	// (messages or pings) before it declares the server gone. The server
	// pings every 4 s, so 30 s survives several lost pings while still
	// noticing a dead server long before TCP would.
	defaultReadTimeout = 30 * time.Second

	// writeTimeout mirrors the server's 10 s write deadline: a peer that
	// cannot take a frame in that time is treated as gone.
	writeTimeout = 10 * time.Second

	// closeTimeout bounds the write of the close frame on Close, so Close
	// never hangs on a stuck socket.
	closeTimeout = time.Second

	// maxFrameBytes is what the client accepts from the server. Server
	// messages are at most 64 KiB, but welcome grows with the number of
	// peers, so allow headroom without allowing unbounded memory.
	maxFrameBytes = 1 << 20

	// sendQueueLen is the writer's queue. Sends block when it is full,
	// which back-pressures a caller faster than the socket.
	sendQueueLen = 64
)

// Option changes how Connect and Dial set up a Client.
type Option func(*options)

type options struct {
	header           http.Header
	handshakeTimeout time.Duration
	readTimeout      time.Duration
	ignorePings      bool
	join             []JoinOption // Dial's join
}

func defaultOptions() options {
	return options{
		handshakeTimeout: defaultHandshakeTimeout,
		readTimeout:      defaultReadTimeout,
	}
}

// WithHeader adds HTTP headers to the upgrade request, for example an Origin
// header to exercise the server's cross-site check.
func WithHeader(h http.Header) Option {
	return func(o *options) { o.header = h.Clone() }
}

// WithHandshakeTimeout bounds the WebSocket upgrade and, in Dial, the
// join → welcome exchange. Zero means no bound beyond the context's.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) { o.handshakeTimeout = d }
}

// WithReadTimeout sets how long the client tolerates silence from the server
// (no message and no ping) before ending the connection with
// ErrConnectionLost. Zero disables the check.
func WithReadTimeout(d time.Duration) Option {
	return func(o *options) { o.readTimeout = d }
}

// WithoutPongs makes the client ignore the server's pings, as a vanished
// client would, so tests can exercise the server's heartbeat expiry. The
// connection still receives messages.
func WithoutPongs() Option {
	return func(o *options) { o.ignorePings = true }
}

// WithResume makes Dial's join carry token, the Resume of the last Welcome
// of a participant whose connection dropped, so that the new connection
// takes it over (docs/protocol.md "Reconnecting"). The server ignores an
// unknown or expired token and joins afresh: check Welcome.Resumed.
func WithResume(token string) Option {
	return func(o *options) { o.join = append(o.join, Resume(token)) }
}

// JoinOption adds an optional field to the `join` message Join sends.
type JoinOption func(*joinMsg)

// WithToken makes Dial's join carry a signed join token (docs/access.md),
// also when reconnecting.
func WithToken(token string) Option {
	return func(o *options) { o.join = append(o.join, func(m *joinMsg) { m.Token = token }) }
}

// Resume sets join's `resume` field: see WithResume.
func Resume(token string) JoinOption {
	return func(m *joinMsg) { m.Resume = token }
}
