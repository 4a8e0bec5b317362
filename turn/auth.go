package turn

import (
	"net"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// authenticate is the pion/turn AuthHandler for TURN REST credentials
// (draft-uberti-behave-turn-rest-00). It returns the long-term key pion
// checks MESSAGE-INTEGRITY with (RFC 8489 §9.2.2: MD5(username ":" realm
// ":" password)); pion compares the HMACs with hmac.Equal in
// stun.MessageIntegrity.Check, so the comparison is constant-time and no
// password or HMAC ever travels or is compared here.
//
// We do not use pion's LongTermTURNRESTAuthHandler: it checks the expiry on
// every request, so a call that outlives its credential would lose its relay
// at the next Refresh (every few minutes) or CreatePermission. Here the
// expiry is checked only when the request being authenticated is an
// Allocate (pion passes the method in RequestAttributes.Method); Refresh,
// CreatePermission and ChannelBind for an existing allocation only need a
// username and key that still match, and pion only finds an allocation for
// the 5-tuple and username that created it.
//
// The userID returned is the whole username, so per-user quotas and
// allocation ownership are per credential, as RFC 8656 §7.2 step 7
// suggests ("based on the username used to authenticate the request").
//
// Nothing here logs the username's credential or the key.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (userID string, key []byte, ok bool) {
	isAllocate := ra.Method == stun.MethodAllocate
	expiry, _, err := parseUsername(ra.Username)
	if err != nil {
		if isAllocate {
			s.refuseAllocation(refusedCredential)
		}
		s.log.Debug("turn: request refused: malformed username", "client", addrString(ra.SrcAddr), "method", ra.Method.String())
		return "", nil, false
	}
	// draft-uberti-behave-turn-rest-00: the username's timestamp is when
	// the credential stops being valid. Checked at Allocate only (above).
	if isAllocate && s.now().After(expiry) {
		s.refuseAllocation(refusedExpired)
		s.log.Debug("turn: allocation refused: credential expired", "client", addrString(ra.SrcAddr), "expired", expiry)
		return "", nil, false
	}
	password := restPassword(s.secret, ra.Username)
	return ra.Username, pionturn.GenerateAuthKey(ra.Username, s.cfg.Realm, password), true
}

// onAuth is pion's OnAuth event: it fires after MESSAGE-INTEGRITY was
// checked with the key authenticate returned. A false verdict means a wrong
// password: wrong HMAC, or a username minted with another secret.
func (s *Server) onAuth(src, _ net.Addr, _, _, _ string, method string, verdict bool) {
	if verdict {
		return
	}
	if method == stun.MethodAllocate.String() {
		s.refuseAllocation(refusedCredential)
	}
	s.log.Debug("turn: request refused: wrong credential", "client", addrString(src), "method", method)
}

// addrString formats an address for a log line, tolerating nil.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
