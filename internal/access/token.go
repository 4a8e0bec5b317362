package access

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenLeeway tolerates clock skew between the application that mints a
// token and this server.
const tokenLeeway = 30 * time.Second

// Claims are a join token's claims (docs/access.md). exp is required; iat
// and nbf are honoured when present.
type Claims struct {
	// Room is the one room the token admits to.
	Room string `json:"room"`
	// Name, when set, is the display name; the join's own name is ignored.
	Name string `json:"name,omitempty"`
	// Publish says whether the holder may send media; absent means true.
	Publish *bool `json:"publish,omitempty"`
	// Admin marks a moderator of the room (shown to the client in welcome).
	Admin bool `json:"admin,omitempty"`
	jwt.RegisteredClaims
}

// MintToken signs claims with secret (HS256). Applications embedding
// Parley do the same in their own language; tests and docs use this.
func MintToken(secret []byte, c Claims) (string, error) {
	if c.ExpiresAt == nil {
		return "", errors.New("access: a join token needs exp")
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("access: sign token: %w", err)
	}
	return s, nil
}

// checkToken verifies a join token: HS256 only (the algorithm is pinned,
// so a token with alg none or RS256 is refused, RFC 8725 §3.1), exp
// required, and the room claim must name the room being joined.
func (c *Checker) checkToken(req Request) (Grant, *Error) {
	if len(c.cfg.TokenSecret) == 0 {
		return Grant{}, &Error{CodeBadToken, "this server does not accept join tokens"}
	}
	var cl Claims
	_, err := jwt.ParseWithClaims(req.Token, &cl, func(*jwt.Token) (any, error) { return c.cfg.TokenSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(c.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Grant{}, &Error{CodeBadToken, "the join token has expired; ask for a new link"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return Grant{}, &Error{CodeBadToken, "the join token has no expiry (exp)"}
	case err != nil:
		return Grant{}, &Error{CodeBadToken, "the join token is not valid (bad signature or format)"}
	}
	if !constantTimeEqual(cl.Room, req.Room) {
		return Grant{}, &Error{CodeBadToken, "the join token is for another room"}
	}
	g := Grant{Token: true, Name: cl.Name, Publish: true, Admin: cl.Admin}
	if cl.Publish != nil {
		g.Publish = *cl.Publish
	}
	return g, nil
}
