package config

import (
	"errors"
	"fmt"
	"path"
	"regexp"
)

// E2EE configures which rooms may go without end-to-end encryption
// (docs/e2ee.md "Unencrypted rooms"). Every other room is encrypted, and
// no URL or client setting can change that.
type E2EE struct {
	UnencryptedRooms []string `yaml:"unencrypted_rooms" help:"rooms whose participants do not encrypt end to end (the load tool's pion participants, a future recorder): names or patterns with * ? [a-z] (load-*); everyone in them sees a banner saying so; empty: every room is encrypted"`
}

// maxRoomPattern is the longest pattern accepted: a room name has at most
// 64 characters (signaling's room rule), and a pattern is about as long.
const maxRoomPattern = 64

// roomPatternRE is the room-name alphabet plus path.Match's metacharacters.
var roomPatternRE = regexp.MustCompile(`^[A-Za-z0-9_*?\[\]^-]+$`)

// validate checks every pattern, so a typo fails at start instead of
// leaving a room encrypted (or not) by surprise.
func (e E2EE) validate() error {
	var errs []error
	for _, p := range e.UnencryptedRooms {
		if len(p) > maxRoomPattern || !roomPatternRE.MatchString(p) {
			errs = append(errs, fmt.Errorf("e2ee.unencrypted_rooms: %q is not a room name or a pattern like load-* (letters, digits, _ - and * ? [ ])", truncate(p, maxRoomPattern)))
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("e2ee.unencrypted_rooms: %q is not a valid pattern: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
