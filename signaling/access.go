package signaling

import "context"

// Authorizer decides whether a join may proceed: room passwords and signed
// join tokens (internal/access). It is called for every join, outside
// Hub.mu, and may be slow (bcrypt). A nil Authorizer leaves every room open.
type Authorizer interface {
	// Authorize checks a join's credentials. The *ProtocolError is the
	// refusal sent to the client (password-required, bad-password,
	// bad-token, token-required, rate-limited).
	Authorize(ctx context.Context, req JoinAuth) (Grant, *ProtocolError)
}

// JoinAuth is what a join offers to prove it may enter a room. It holds a
// password or a token: it must never be logged.
type JoinAuth struct {
	Room     string
	Name     string
	Password string
	Token    string
	// RemoteIP is the client's address (after trusted-proxy rewriting), for
	// per-IP rate limits of failed attempts.
	RemoteIP string
}

// Grant is what an admitted join may do.
type Grant struct {
	// Name replaces the requested display name when a token fixed one.
	Name string
	// Permissions are sent in `welcome` when a token set them; nil for
	// joins without a token (everything allowed, as before tokens).
	Permissions *Permissions
}

// Permissions are a token's claims about what its holder may do. Publish
// false makes the holder a viewer: the SFU forwards none of its media, and
// in a mesh the other clients drop it (the server cannot police a mesh).
// Admin lets it send `moderate` (moderate.go).
type Permissions struct {
	Publish bool `json:"publish"`
	Admin   bool `json:"admin"`
}
