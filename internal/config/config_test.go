package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != ":8080" || c.MeshMax != 6 || c.EffectiveMeshDown() != 4 || !c.TURNEnabled() || c.TURN.CredentialTTL != time.Hour {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestPrecedenceFlagsOverEnvOverFileOverDefaults(t *testing.T) {
	file := writeFile(t, "http: \":7000\"\nmesh_max: 3\nlog_level: warn\npolicy: mesh-only\nturn:\n  credential_ttl: 30m\n  allow_peers: [127.0.0.0/8, \"10.1.0.0/16\"]\n")
	c, err := Load([]string{"--config", file, "--mesh-max", "5"},
		env(map[string]string{"PARLEY_MESH_MAX": "4", "PARLEY_LOG_LEVEL": "debug", "PARLEY_HTTP": ":7100"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MeshMax != 5 {
		t.Errorf("mesh_max = %d, want the flag's 5", c.MeshMax)
	}
	if c.LogLevel != "debug" || c.HTTP != ":7100" {
		t.Errorf("env did not override the file: %+v", c)
	}
	if c.Policy != "mesh-only" || c.TURN.CredentialTTL != 30*time.Minute || len(c.TURN.AllowPeers) != 2 {
		t.Errorf("file values lost: %+v", c)
	}
	if c.EffectiveMeshDown() != 3 {
		t.Errorf("mesh_down = %d, want max(2, 5-2)", c.EffectiveMeshDown())
	}
}

func TestConfigFromEnvName(t *testing.T) {
	file := writeFile(t, "mesh_max: 2\n")
	c, err := Load(nil, env(map[string]string{"PARLEY_CONFIG": file, "PARLEY_TURN_ALLOW_PEERS": "127.0.0.0/8, ::1/128"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MeshMax != 2 || c.EffectiveMeshDown() != 2 || len(c.TURN.AllowPeers) != 2 {
		t.Fatalf("config = %+v", c)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"unknown key in file", nil, nil, "http: \":1\"\nmesh_maxx: 3\n", "line 2: field mesh_maxx not found"},
		{"bad CIDR", nil, map[string]string{"PARLEY_TURN_ALLOW_PEERS": "10.0.0.0/33"}, "", "turn.allow_peers"},
		{"bad number in env", nil, map[string]string{"PARLEY_MESH_MAX": "six"}, "", "PARLEY_MESH_MAX"},
		{"mesh_max out of range", []string{"--mesh-max", "0"}, nil, "", "mesh_max"},
		{"bad policy", []string{"--policy", "sometimes"}, nil, "", "policy"},
		{"bad public url", []string{"--public-url", "meet.example.org"}, nil, "", "public_url"},
		{"allowed origin with a path", []string{"--allowed-origins", "https://app.example.com/meet"}, nil, "", `allowed_origins: "https://app.example.com/meet" is not an origin`},
		{"allowed origin without scheme", nil, map[string]string{"PARLEY_ALLOWED_ORIGINS": "https://a.example, app.example.com"}, "", `allowed_origins: "app.example.com"`},
		{"allowed origin not in ASCII", nil, nil, "allowed_origins: [\"https://bücher.example\"]\n", "allowed_origins"},
		{"bad duration", nil, map[string]string{"PARLEY_TURN_CREDENTIAL_TTL": "soon"}, "", "PARLEY_TURN_CREDENTIAL_TTL"},
		{"cert without key", []string{"--tls-cert", "a.pem"}, nil, "", "cert_file and key_file"},
		{"stray argument", []string{"serve"}, nil, "", "unexpected argument"},
		{"mesh_down too big", nil, map[string]string{"PARLEY_MESH_DOWN": "6"}, "", "mesh_down"},
		{"TURNS without a certificate", []string{"--turn-tls", ":5349"}, nil, "", "turn.tls_listen: needs a certificate"},
		{"TURNS with ACME for another host", []string{"--turn-tls", ":5349"}, nil,
			"tls:\n  acme_hosts: [meet.example.org]\n  acme_cache_dir: /tmp/acme\nturn:\n  host: 203.0.113.7\n", "set turn.host to one of tls.acme_hosts (meet.example.org)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, err := Load(args, env(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestHelp: -h is reported to the caller, which prints WriteFlagHelp
// (cmd/parley adds the commands); a bool flag needs no value.
func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := Load([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	WriteFlagHelp(&out)
	if !strings.Contains(out.String(), "PARLEY_MESH_MAX") || !strings.Contains(out.String(), "--sfu-loopback ") {
		t.Fatalf("help = %s", out.String())
	}
	c, err := Load([]string{"--sfu-loopback", "--mesh-max", "3"}, env(nil), io.Discard)
	if err != nil || !c.SFU.Loopback || c.MeshMax != 3 {
		t.Fatalf("--sfu-loopback alone: %v %+v", err, c.SFU)
	}
	c, err = Load([]string{"--sfu-listen", "127.0.0.1", "--embed-origins", "https://a.example, https://b.example:8443", "--hsts-max-age", "1h"}, env(nil), io.Discard)
	if err != nil || c.SFU.ListenIP != "127.0.0.1" || len(c.EmbedOrigins) != 2 || c.HSTSMaxAge != time.Hour {
		t.Fatalf("new flags: %v %+v", err, c)
	}
	for _, bad := range []string{"https://a.example/path", "*", "https://a.example; script-src *", "a.example", "'self'"} {
		if _, err := Load([]string{"--embed-origins", bad}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "embed_origins") {
			t.Errorf("embed_origins %q: %v", bad, err)
		}
	}
	if _, err := Load([]string{"--sfu-listen", "nope"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "sfu.listen_ip") {
		t.Errorf("sfu.listen_ip nope: %v", err)
	}
}

func TestEveryKeyHasHelpAndEnv(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys() {
		if k.Help == "" {
			t.Errorf("%s has no help text", k.Path)
		}
		if seen[k.Env] {
			t.Errorf("env name %s used twice", k.Env)
		}
		seen[k.Env] = true
		var c Config
		if err := c.Set(k.Path, k.Default); err != nil && k.Default != "" {
			t.Errorf("%s: default %q does not parse back: %v", k.Path, k.Default, err)
		}
	}
	for _, f := range flagKeys {
		var c Config
		if err := c.Set(f.path, ""); err != nil && !strings.Contains(err.Error(), "not") {
			t.Errorf("flag --%s names unknown key %s: %v", f.flag, f.path, err)
		}
	}
}

// TestAllowedOrigins: allowed_origins comes from the file, the environment
// or --allowed-origins, comma-separated, flags winning.
func TestAllowedOrigins(t *testing.T) {
	file := writeFile(t, "allowed_origins: [\"https://app.example.com\", \"http://10.0.0.5:8080/\"]\n")
	c, err := Load([]string{"--config", file}, env(nil), io.Discard)
	if err != nil || !slices.Equal(c.AllowedOrigins, []string{"https://app.example.com", "http://10.0.0.5:8080/"}) {
		t.Fatalf("from the file: %q, %v", c.AllowedOrigins, err)
	}
	c, err = Load([]string{"--allowed-origins", "https://b.example:8443, http://[::1]:9000"},
		env(map[string]string{"PARLEY_ALLOWED_ORIGINS": "https://a.example"}), io.Discard)
	if err != nil || !slices.Equal(c.AllowedOrigins, []string{"https://b.example:8443", "http://[::1]:9000"}) {
		t.Fatalf("from the flag: %q, %v", c.AllowedOrigins, err)
	}
}
