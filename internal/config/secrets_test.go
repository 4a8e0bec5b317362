package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func secretFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is masked by umask
		t.Fatal(err)
	}
	return p
}

func TestSecretFilesAreRead(t *testing.T) {
	adm := secretFile(t, "admin-secret\n", 0o600)
	ts := secretFile(t, "0123456789abcdef0123456789abcdef-token\n", 0o400)
	c, err := Load(nil, env(map[string]string{
		"PARLEY_ADMIN_TOKEN_FILE":         adm,
		"PARLEY_ACCESS_TOKEN_SECRET_FILE": ts,
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "admin-secret" || c.Access.TokenSecret != "0123456789abcdef0123456789abcdef-token" {
		t.Fatalf("secrets not read: %q %q", c.AdminToken, c.Access.TokenSecret)
	}
}

func TestSecretFileReadableByOthersIsRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		p := secretFile(t, "s3cret", mode)
		_, err := Load(nil, env(map[string]string{"PARLEY_TURN_SECRET_FILE": p}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "turn.secret_file") || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

func TestSecretAndItsFileConflict(t *testing.T) {
	p := secretFile(t, "a", 0o600)
	_, err := Load(nil, env(map[string]string{"PARLEY_ADMIN_TOKEN": "b", "PARLEY_ADMIN_TOKEN_FILE": p}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadCIDRNamesTheKey(t *testing.T) {
	for key, envName := range map[string]string{"trusted_proxies": "PARLEY_TRUSTED_PROXIES", "turn.allow_peers": "PARLEY_TURN_ALLOW_PEERS"} {
		_, err := Load(nil, env(map[string]string{envName: "10.0.0.0/33"}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), key+": \"10.0.0.0/33\" is not a CIDR") {
			t.Errorf("%s: err = %v", key, err)
		}
	}
}

func TestAccessValidation(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PARLEY_ACCESS_PASSWORD_HASH": "plaintext"}, "access.password_hash: not a bcrypt hash"},
		{map[string]string{"PARLEY_ACCESS_ROOM_PASSWORDS": "team"}, "access.room_passwords"},
		{map[string]string{"PARLEY_ACCESS_TOKEN_SECRET": "short"}, "access.token_secret: 5 bytes is too short"},
		{map[string]string{"PARLEY_ACCESS_REQUIRE_TOKEN": "true"}, "access.require_token: needs access.token_secret"},
		{map[string]string{"PARLEY_TLS_ACME_HOSTS": "meet.example.org"}, "tls.acme_cache_dir"},
		{map[string]string{"PARLEY_TLS_ACME_EMAIL": "a@example.org"}, "tls.acme_*: set only with tls.acme_hosts"},
	} {
		_, err := Load(nil, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %q", tc.env, err, tc.want)
		}
	}
	good := "$2a$04$4fdlKDmtvb2bU32d6nX0HOe03SEc77s3yA67D9uOw1nneaL3WrALe" // bcrypt of "pw", cost 4
	c, err := Load(nil, env(map[string]string{"PARLEY_ACCESS_ROOM_PASSWORDS": "team=" + good + ",ops=" + good}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.Access.RoomPasswordHashes()
	if m["team"] != good || m["ops"] != good {
		t.Fatalf("room passwords = %v", m)
	}
}
