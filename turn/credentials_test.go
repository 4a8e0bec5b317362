package turn

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMintCredentialKnownVector checks MintCredential against vectors
// computed outside Go:
//
//	printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 'parley-test-secret' -binary | base64
//	Ti1Nvp3d0lvroXjKdn1zPPkrya4=
//	printf '%s' '1700000000:peer:with:colons' | openssl dgst -sha1 -hmac 'north' -binary | base64
//	aGAYnKekfzYjfvRJeGwLbNvgijg=
func TestMintCredentialKnownVector(t *testing.T) {
	cases := []struct {
		secret, peer       string
		username, password string
	}{
		{"parley-test-secret", "alice", "1700000000:alice", "Ti1Nvp3d0lvroXjKdn1zPPkrya4="},
		{"north", "peer:with:colons", "1700000000:peer:with:colons", "aGAYnKekfzYjfvRJeGwLbNvgijg="},
	}
	for _, c := range cases {
		u, p := MintCredential(c.secret, c.peer, time.Unix(1700000000, 0))
		if u != c.username || p != c.password {
			t.Errorf("MintCredential(%q, %q) = %q, %q; want %q, %q", c.secret, c.peer, u, p, c.username, c.password)
		}
	}
}

func TestParseUsername(t *testing.T) {
	cases := []struct {
		in     string
		expiry int64
		peer   string
		err    bool
	}{
		{"1700000000:alice", 1700000000, "alice", false},
		{"1700000000:a:b", 1700000000, "a:b", false},
		{"1700000000:", 1700000000, "", false},
		{"1700000000", 0, "", true},
		{"alice:1700000000", 0, "", true},
		{"-5:alice", 0, "", true},
		{":alice", 0, "", true},
		{"", 0, "", true},
		{"99999999999999999999:x", 0, "", true},
	}
	for _, c := range cases {
		expiry, peer, err := parseUsername(c.in)
		if c.err {
			if !errors.Is(err, ErrMalformedUsername) {
				t.Errorf("parseUsername(%q) err = %v, want ErrMalformedUsername", c.in, err)
			}
			continue
		}
		if err != nil || expiry.Unix() != c.expiry || peer != c.peer {
			t.Errorf("parseUsername(%q) = %v, %q, %v", c.in, expiry.Unix(), peer, err)
		}
	}
}

func TestICEServers(t *testing.T) {
	clock := &testClock{}
	s := startServer(t, baseConfig(), clock)
	port := portOfAddr(s.Addr())

	first := s.ICEServers("alice")
	if len(first) != 1 {
		t.Fatalf("ICEServers = %+v", first)
	}
	mustContain(t, first[0].URLs,
		"turn:203.0.113.10:"+itoa(port)+"?transport=udp",
		"turn:203.0.113.10:"+itoa(port)+"?transport=tcp")
	if len(first[0].URLs) != 2 {
		t.Errorf("URLs = %q, want udp and tcp only (no TLS configured)", first[0].URLs)
	}
	expiry, peer, err := parseUsername(first[0].Username)
	if err != nil || peer != "alice" {
		t.Fatalf("username %q: %v", first[0].Username, err)
	}
	if d := expiry.Sub(clock.now()); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Errorf("credential valid for %v, want 1h", d)
	}
	if _, want := MintCredential(testSecret, "alice", expiry); first[0].Credential != want {
		t.Errorf("credential does not verify with the secret")
	}

	// Fresh per call: a reconnect an hour later gets a new, later expiry.
	clock.advance(time.Hour)
	second := s.ICEServers("alice")
	if second[0].Username == first[0].Username {
		t.Errorf("ICEServers minted the same credential twice: %q", second[0].Username)
	}

	// JSON as signaling sends it.
	b, err := json.Marshal(second[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"urls":[`, `"username":"`, `"credential":"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

func TestICEServersDisabledAndExternal(t *testing.T) {
	off, err := New(Config{Listen: "off"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Start(t.Context()); err != nil {
		t.Fatalf("Start on a disabled server: %v", err)
	}
	defer off.Close()
	if got := off.ICEServers("alice"); got != nil {
		t.Errorf("disabled ICEServers = %+v, want nil", got)
	}
	if !off.Disabled() || off.Addr() != nil {
		t.Errorf("Disabled = %v, Addr = %v", off.Disabled(), off.Addr())
	}

	ext, err := New(Config{Listen: "", Secret: "coturn-secret", ExternalURLs: []string{"turn:turn.example.org:3478", "turns:turn.example.org:443?transport=tcp"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ext.ICEServers("bob")
	if len(got) != 1 || len(got[0].URLs) != 2 || got[0].URLs[0] != "turn:turn.example.org:3478" {
		t.Fatalf("external ICEServers = %+v", got)
	}
	expiry, _, err := parseUsername(got[0].Username)
	if err != nil {
		t.Fatal(err)
	}
	if _, want := MintCredential("coturn-secret", "bob", expiry); got[0].Credential != want {
		t.Errorf("external credential not minted with the shared secret")
	}

	if _, err := New(Config{Listen: "off", ExternalURLs: []string{"turn:x:3478"}}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("external URLs without secret: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := New(Config{Listen: "off", Secret: "s", ExternalURLs: []string{"stun:x:3478"}}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("stun: external URL: err = %v, want ErrInvalidConfig", err)
	}
}

func TestICEServersHostAndTLS(t *testing.T) {
	cfg := baseConfig()
	cfg.URLHost = "2001:db8::5"
	cfg.Listen = "127.0.0.1:3478" // not started: configured ports are offered
	cfg.TLSListen = "127.0.0.1:5349"
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil } // never asked: not started
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.ICEServers("carol")[0].URLs
	want := []string{
		"turn:[2001:db8::5]:3478?transport=udp",
		"turn:[2001:db8::5]:3478?transport=tcp",
		"turns:[2001:db8::5]:5349?transport=tcp",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("URLs = %q, want %q", got, want)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
