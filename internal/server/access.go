package server

import (
	"context"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/signaling"
)

// newAuthorizer builds the join check from access.*, or nil when every
// room is open (then signaling skips the check).
func newAuthorizer(cfg config.Config) (signaling.Authorizer, error) {
	rooms, err := cfg.Access.RoomPasswordHashes()
	if err != nil {
		return nil, err
	}
	c, err := access.New(access.Config{
		PasswordHash: cfg.Access.PasswordHash,
		RoomHashes:   rooms,
		TokenSecret:  []byte(cfg.Access.TokenSecret),
		RequireToken: cfg.Access.RequireToken,
	})
	if err != nil {
		return nil, err
	}
	if c.Open() {
		return nil, nil
	}
	return authorizer{c}, nil
}

// authorizer adapts access.Checker to signaling.Authorizer; the codes are
// the same strings.
type authorizer struct{ c *access.Checker }

func (a authorizer) Authorize(_ context.Context, req signaling.JoinAuth) (signaling.Grant, *signaling.ProtocolError) {
	g, e := a.c.Check(access.Request{Room: req.Room, Name: req.Name, Password: req.Password, Token: req.Token, IP: req.RemoteIP})
	if e != nil {
		return signaling.Grant{}, &signaling.ProtocolError{Code: signaling.Code(e.Code), Message: e.Message}
	}
	if !g.Token {
		return signaling.Grant{}, nil
	}
	return signaling.Grant{Name: g.Name, Permissions: &signaling.Permissions{Publish: g.Publish, Admin: g.Admin}}, nil
}
