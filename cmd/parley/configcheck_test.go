package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestConfigCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "mesh_max: 4\ntrusted_proxies: [127.0.0.1/32]\n")
	unknown := write("unknown.yaml", "mesh_max: 4\nmesh_maxx: 5\n")
	cidr := write("cidr.yaml", "trusted_proxies: [10.0.0.0/99]\n")
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		out  string
	}{
		{[]string{"check", good}, nil, exitOK, "ok"},
		{[]string{"check", unknown}, nil, exitInvalid, "line 2: field mesh_maxx not found"},
		{[]string{"check", cidr}, nil, exitInvalid, "trusted_proxies: \"10.0.0.0/99\" is not a CIDR"},
		{[]string{"check", filepath.Join(dir, "missing.yaml")}, nil, exitInvalid, "no such file"},
		{[]string{"check", good}, map[string]string{"PARLEY_MESH_MAX": "0"}, exitInvalid, "mesh_max"}, // env applies, as at start
		{[]string{"check"}, nil, exitUsage, "usage"},
		{[]string{"lint", good}, nil, exitUsage, "usage"},
		{nil, nil, exitUsage, "usage"},
	} {
		var out, errb bytes.Buffer
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		code := configCheck(tc.args, lookup, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.out) {
			t.Errorf("config %v: exit %d, output %q %q; want exit %d mentioning %q", tc.args, code, out.String(), errb.String(), tc.code, tc.out)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h, err := hashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse")) != nil {
		t.Fatal("hash does not match its password")
	}
	if _, err := hashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
	if _, err := hashPassword(strings.Repeat("x", 73)); err == nil {
		t.Fatal("password over bcrypt's 72 bytes hashed")
	}
}
