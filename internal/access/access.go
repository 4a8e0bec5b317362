// Package access decides who may join a room: an optional password (global
// or per room, stored as bcrypt hashes) and signed join tokens (JWT, HS256)
// for embedding Parley in another application. Rooms with neither stay
// open. docs/access.md is the operator's guide.
//
// signaling asks through its Authorizer interface; internal/server adapts
// a *Checker to it. This package knows nothing of WebSockets.
package access

import (
	"crypto/subtle"
	"errors"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Refusal codes, the same strings as signaling's error codes
// (docs/protocol.md).
const (
	CodePasswordRequired = "password-required"
	CodeBadPassword      = "bad-password"
	CodeBadToken         = "bad-token"
	CodeTokenRequired    = "token-required"
	CodeRateLimited      = "rate-limited"
)

// Error is a refused join: a code from the list above and a text for people.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Config is what the Checker enforces.
type Config struct {
	// PasswordHash is the bcrypt hash every room asks for; empty: none.
	PasswordHash string
	// RoomHashes are per-room bcrypt hashes; a listed room asks for its
	// own password instead of PasswordHash.
	RoomHashes map[string]string
	// TokenSecret is the HS256 key of join tokens; empty: tokens refused.
	TokenSecret []byte
	// RequireToken refuses every join without a valid token.
	RequireToken bool
	// Now is the clock tokens are checked with; nil is time.Now.
	Now func() time.Time
}

// Request is one join's claim to enter a room.
type Request struct {
	Room, Name      string
	Password, Token string // never logged
	IP              string // client address, for the failed-attempt limit
}

// Grant is what an admitted join may do.
type Grant struct {
	// Token is true when a token admitted the join; then Name (if not
	// empty), Publish and Admin come from its claims.
	Token   bool
	Name    string
	Publish bool
	Admin   bool
}

// Checker checks joins. It is safe for concurrent use.
type Checker struct {
	cfg     Config
	now     func() time.Time
	limiter *ipLimiter
}

// New returns a Checker for cfg.
func New(cfg Config) (*Checker, error) {
	if cfg.RequireToken && len(cfg.TokenSecret) == 0 {
		return nil, errors.New("access: require_token without a token secret")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Checker{cfg: cfg, now: now, limiter: newIPLimiter(maxTrackedIPs)}, nil
}

// Open reports whether the Checker admits everyone (no password, no
// required token), so the server can skip it entirely.
func (c *Checker) Open() bool {
	return c.cfg.PasswordHash == "" && len(c.cfg.RoomHashes) == 0 && !c.cfg.RequireToken && len(c.cfg.TokenSecret) == 0
}

// Check admits or refuses one join. A valid token for the room admits
// without a password; otherwise the room's password, if it has one, must
// match. Wrong passwords are limited per IP (failedBurst, then one per
// failedEvery); asking without a password is not a failure.
func (c *Checker) Check(req Request) (Grant, *Error) {
	if req.Token != "" {
		return c.checkToken(req)
	}
	if c.cfg.RequireToken {
		return Grant{}, &Error{CodeTokenRequired, "this server admits only participants with a join token; use the link you were given"}
	}
	hash := c.cfg.PasswordHash
	if h, ok := c.cfg.RoomHashes[req.Room]; ok {
		hash = h
	}
	if hash == "" {
		return Grant{}, nil
	}
	if req.Password == "" {
		return Grant{}, &Error{CodePasswordRequired, "this room needs a password"}
	}
	if !c.limiter.mayTry(req.IP) {
		return Grant{}, &Error{CodeRateLimited, "too many wrong passwords from your address; wait a minute and try again"}
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(req.Password)) != nil {
		c.limiter.failed(req.IP)
		return Grant{}, &Error{CodeBadPassword, "wrong password"}
	}
	return Grant{}, nil
}

// constantTimeEqual compares two strings without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
