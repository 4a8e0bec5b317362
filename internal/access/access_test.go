package access

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func mint(t *testing.T, key []byte, c Claims) string {
	t.Helper()
	s, err := MintToken(key, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exp(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(time.Now().Add(d)) }

func code(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

func TestPasswords(t *testing.T) {
	c, err := New(Config{PasswordHash: hash(t, "global"), RoomHashes: map[string]string{"team": hash(t, "team-pw")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		room, pw, want string
	}{
		{"any", "", CodePasswordRequired},
		{"any", "nope", CodeBadPassword},
		{"any", "global", ""},
		{"team", "global", CodeBadPassword},
		{"team", "team-pw", ""},
	} {
		_, e := c.Check(Request{Room: tc.room, Password: tc.pw, IP: "192.0.2." + tc.room})
		if code(e) != tc.want {
			t.Errorf("room %s password %q: got %q, want %q", tc.room, tc.pw, code(e), tc.want)
		}
	}
}

func TestOpenRoomsStayOpen(t *testing.T) {
	c, _ := New(Config{RoomHashes: map[string]string{"locked": hash(t, "x")}})
	if _, e := c.Check(Request{Room: "open"}); e != nil {
		t.Fatalf("open room refused: %v", e)
	}
	if c.Open() {
		t.Fatal("a checker with a locked room says it is open")
	}
}

func TestFailedPasswordsAreRateLimitedPerIP(t *testing.T) {
	c, _ := New(Config{PasswordHash: hash(t, "right")})
	for i := range failedBurst {
		if _, e := c.Check(Request{Room: "r", Password: "wrong", IP: "198.51.100.1"}); code(e) != CodeBadPassword {
			t.Fatalf("attempt %d: %v", i, e)
		}
	}
	// Even the right password waits now: the address used its budget.
	if _, e := c.Check(Request{Room: "r", Password: "right", IP: "198.51.100.1"}); code(e) != CodeRateLimited {
		t.Fatalf("after %d failures: %v, want rate-limited", failedBurst, e)
	}
	if _, e := c.Check(Request{Room: "r", Password: "right", IP: "198.51.100.2"}); e != nil {
		t.Fatalf("another address is limited too: %v", e)
	}
}

func TestLimiterIsBounded(t *testing.T) {
	l := newIPLimiter(100)
	for i := range 1000 {
		l.failed(string(rune('a'+i%26)) + string(rune(i)))
	}
	if n := len(l.m); n > 100 {
		t.Fatalf("limiter holds %d addresses, bound 100", n)
	}
}

func TestTokens(t *testing.T) {
	c, _ := New(Config{PasswordHash: hash(t, "pw"), TokenSecret: secret})
	no := false
	good := mint(t, secret, Claims{Room: "r", Name: "Ada", Publish: &no, Admin: true, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp(time.Hour)}})
	g, e := c.Check(Request{Room: "r", Token: good})
	if e != nil || !g.Token || g.Name != "Ada" || g.Publish || !g.Admin {
		t.Fatalf("good token: %+v %v", g, e)
	}
	cases := map[string]string{
		"expired":      mint(t, secret, Claims{Room: "r", RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp(-time.Hour)}}),
		"wrong secret": mint(t, []byte("another-secret-another-secret-xx"), Claims{Room: "r", RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp(time.Hour)}}),
		"wrong room":   mint(t, secret, Claims{Room: "other", RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp(time.Hour)}}),
		"garbage":      "not.a.token",
	}
	// No exp: MintToken refuses, so sign by hand.
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Room: "r"}).SignedString(secret)
	cases["no exp"] = noExp
	// alg none must never pass (RFC 8725 §3.1).
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, Claims{Room: "r", RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp(time.Hour)}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases["alg none"] = none
	// HS512 with the right secret is still not the pinned algorithm.
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, Claims{Room: "r", RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp(time.Hour)}}).SignedString(secret)
	cases["HS512"] = hs512
	for name, tok := range cases {
		if _, e := c.Check(Request{Room: "r", Token: tok}); code(e) != CodeBadToken {
			t.Errorf("%s: got %v, want bad-token", name, e)
		}
	}
}

func TestRequireToken(t *testing.T) {
	c, _ := New(Config{TokenSecret: secret, RequireToken: true})
	if _, e := c.Check(Request{Room: "r"}); code(e) != CodeTokenRequired {
		t.Fatalf("no token: %v", e)
	}
	if _, err := New(Config{RequireToken: true}); err == nil {
		t.Fatal("require_token without a secret accepted")
	}
}
