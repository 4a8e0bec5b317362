package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// These tests hold the server to docs/access.md: room passwords, signed
// join tokens, and the limit on wrong passwords.

var accessTokenSecret = []byte("e2e-join-token-secret-0123456789abcdef")

// accessHash is a bcrypt hash at the lowest cost, so tests stay quick.
func accessHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// rawJoin opens a WebSocket, sends join with extra fields, and returns the
// server's answer (welcome or error).
func rawJoin(t *testing.T, wsURL string, fields map[string]any) map[string]any {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	msg := map[string]any{"type": "join", "v": 1, "name": "Tester"}
	for k, v := range fields {
		msg[k] = v
	}
	if err := ws.WriteJSON(msg); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	var reply map[string]any
	if err := ws.ReadJSON(&reply); err != nil {
		t.Fatalf("join %v: %v", fields, err)
	}
	return reply
}

func wantCode(t *testing.T, what string, reply map[string]any, code string) {
	t.Helper()
	if code == "" {
		if reply["type"] != "welcome" {
			t.Errorf("%s: got %v, want welcome", what, reply)
		}
		return
	}
	if reply["type"] != "error" || reply["code"] != code {
		t.Errorf("%s: got %v, want error %s", what, reply, code)
	}
	if m, _ := reply["message"].(string); m == "" {
		t.Errorf("%s: error without a message", what)
	}
}

func mintAccess(t *testing.T, key []byte, c access.Claims) string {
	t.Helper()
	s, err := access.MintToken(key, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func expIn(d time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(d))}
}

// TestAccessPasswordsAndTokens (docs/access.md): a room with a password refuses
// joins without it or with a wrong one and admits the right one; tokens
// that expired, are signed with another key or name another room are
// refused; a valid token admits with its name and permissions; rooms
// without a password stay open.
func TestAccessPasswordsAndTokens(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.Access.RoomPasswords = []string{"locked=" + accessHash(t, "open sesame")}
		c.Access.TokenSecret = string(accessTokenSecret)
	})
	no := false
	for _, tc := range []struct {
		what   string
		fields map[string]any
		code   string
	}{
		{"open room", map[string]any{"room": "lobby"}, ""},
		{"no password", map[string]any{"room": "locked"}, "password-required"},
		{"wrong password", map[string]any{"room": "locked", "password": "open barley"}, "bad-password"},
		{"right password", map[string]any{"room": "locked", "password": "open sesame"}, ""},
		{"password not a string", map[string]any{"room": "locked", "password": 42}, "bad-field"},
		{"expired token", map[string]any{"room": "locked", "token": mintAccess(t, accessTokenSecret, access.Claims{Room: "locked", RegisteredClaims: expIn(-time.Hour)})}, "bad-token"},
		{"token signed with another key", map[string]any{"room": "locked", "token": mintAccess(t, []byte("not-the-server-secret-0123456789abcdef"), access.Claims{Room: "locked", RegisteredClaims: expIn(time.Hour)})}, "bad-token"},
		{"token for another room", map[string]any{"room": "locked", "token": mintAccess(t, accessTokenSecret, access.Claims{Room: "elsewhere", RegisteredClaims: expIn(time.Hour)})}, "bad-token"},
		{"garbage token", map[string]any{"room": "locked", "token": "eyJ.garbage.x"}, "bad-token"},
	} {
		wantCode(t, tc.what, rawJoin(t, ts.WSURL, tc.fields), tc.code)
	}

	tok := mintAccess(t, accessTokenSecret, access.Claims{Room: "locked", Name: "Grace (host)", Publish: &no, Admin: true, RegisteredClaims: expIn(time.Hour)})
	w := rawJoin(t, ts.WSURL, map[string]any{"room": "locked", "token": tok})
	wantCode(t, "valid token", w, "")
	if w["name"] != "Grace (host)" {
		t.Errorf("the token's name was not used: %v", w["name"])
	}
	perms, _ := json.Marshal(w["permissions"])
	if string(perms) != `{"admin":true,"publish":false}` {
		t.Errorf("welcome permissions = %s", perms)
	}
}

// TestAccessRequireToken: with require_token, a join without a token is
// refused with token-required, even into a room without password.
func TestAccessRequireToken(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.Access.TokenSecret = string(accessTokenSecret)
		c.Access.RequireToken = true
	})
	wantCode(t, "no token", rawJoin(t, ts.WSURL, map[string]any{"room": "r"}), "token-required")
	tok := mintAccess(t, accessTokenSecret, access.Claims{Room: "r", RegisteredClaims: expIn(time.Minute)})
	wantCode(t, "token", rawJoin(t, ts.WSURL, map[string]any{"room": "r", "token": tok}), "")
}

// TestAccessWrongPasswordsRateLimited: after a burst of wrong passwords
// from one address, even the right one is refused with rate-limited.
func TestAccessWrongPasswordsRateLimited(t *testing.T) {
	ts := testserver.Start(t, func(c *config.Config) {
		c.Access.PasswordHash = accessHash(t, "right")
	})
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		r := rawJoin(t, ts.WSURL, map[string]any{"room": "r", "password": "wrong"})
		switch r["code"] {
		case "bad-password":
		case "rate-limited":
			limited = true
		default:
			t.Fatalf("attempt %d: %v", i, r)
		}
	}
	if !limited {
		t.Fatal("20 wrong passwords in a row were never rate-limited")
	}
	wantCode(t, "right password while limited", rawJoin(t, ts.WSURL, map[string]any{"room": "r", "password": "right"}), "rate-limited")
}

// TestAccessViewerMediaNotForwarded: a token with publish:false
// makes a viewer. In an SFU room the viewer's client sends media anyway
// (a pion client ignores its permissions); the server forwards none of it,
// while the viewer receives everyone and is announced as a viewer.
func TestAccessViewerMediaNotForwarded(t *testing.T) {
	c := startSFUCall(t, 90*time.Second, func(cfg *config.Config) {
		cfg.Policy = "sfu-only"
		cfg.Access.TokenSecret = string(accessTokenSecret)
	})
	token := func(publish bool) func(*pionpeer.Config) {
		tok := mintAccess(t, accessTokenSecret, access.Claims{Room: c.room, Publish: &publish, RegisteredClaims: expIn(time.Hour)})
		return func(p *pionpeer.Config) { p.SignalOptions = append(p.SignalOptions, sigclient.WithToken(tok)) }
	}
	a := c.join("A", token(true))
	v := c.join("V", token(false))
	b := c.join("B", nil)
	names := map[*pionpeer.Peer]string{a: "A", v: "V", b: "B"}
	if ps := b.Welcome().Peers; len(ps) != 2 || ps[0].Viewer || !ps[1].Viewer {
		t.Errorf("B's welcome peers %+v, want A, then V marked as a viewer", ps)
	}
	meshPoll(t, 30*time.Second, func() string {
		for _, rx := range []*pionpeer.Peer{a, v, b} {
			for _, tx := range []*pionpeer.Peer{a, b} {
				if rx != tx && rx.ReceivedVia(tx.ID(), pionpeer.KindVideo, pionpeer.PathSFU) < 30 {
					return names[rx] + " has not received " + names[tx] + "'s video"
				}
			}
		}
		return ""
	})
	time.Sleep(time.Second) // V has been sending all along
	for _, rx := range []*pionpeer.Peer{a, b} {
		for _, k := range []pionpeer.Kind{pionpeer.KindVideo, pionpeer.KindAudio} {
			if n := rx.ReceivedVia(v.ID(), k, pionpeer.PathSFU); n != 0 {
				t.Errorf("%s received %d %s packets from the viewer", names[rx], n, k)
			}
		}
	}
}
