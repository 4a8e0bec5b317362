package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// minTokenSecret is the shortest HS256 secret accepted: RFC 7518 §3.2
// requires a key at least as long as the hash output (256 bits).
const minTokenSecret = 32

// roomRE is signaling's room-name rule, repeated so config does not import
// signaling.
var roomRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// RoomPasswordHashes parses access.room_passwords into room → bcrypt hash.
// Validate has already checked it.
func (a Access) RoomPasswordHashes() (map[string]string, error) {
	out := make(map[string]string, len(a.RoomPasswords))
	for _, e := range a.RoomPasswords {
		room, hash, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok || !roomRE.MatchString(room) {
			return nil, fmt.Errorf("access.room_passwords: %q is not room=bcrypt-hash (make the hash with parley hash-password)", truncate(e, 24))
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("access.room_passwords: the hash for room %q is not a bcrypt hash (make it with parley hash-password): %w", room, err)
		}
		if _, dup := out[room]; dup {
			return nil, fmt.Errorf("access.room_passwords: room %q is listed twice", room)
		}
		out[room] = hash
	}
	return out, nil
}

// validate checks the access keys.
func (a Access) validate() error {
	var errs []error
	if a.PasswordHash != "" {
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			errs = append(errs, fmt.Errorf("access.password_hash: not a bcrypt hash (make it with parley hash-password): %w", err))
		}
	}
	if _, err := a.RoomPasswordHashes(); err != nil {
		errs = append(errs, err)
	}
	if a.TokenSecret != "" && len(a.TokenSecret) < minTokenSecret {
		errs = append(errs, fmt.Errorf("access.token_secret: %d bytes is too short for HS256; use at least %d (e.g. openssl rand -base64 48)", len(a.TokenSecret), minTokenSecret))
	}
	if a.RequireToken && a.TokenSecret == "" {
		errs = append(errs, errors.New("access.require_token: needs access.token_secret"))
	}
	return errors.Join(errs...)
}

// truncate shortens s for an error message that must not echo a secret in
// full.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
