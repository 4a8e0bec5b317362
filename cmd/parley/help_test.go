package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelp: `parley help` (and -h) lists the commands and the flags grouped
// by topic with their real types and defaults, within 80 columns, exit 0;
// `parley help COMMAND` shows that command; an unknown one exits 2.
func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runHelp(context.Background(), nil, &out, &errb); code != 0 {
		t.Fatalf("parley help: exit %d", code)
	}
	help := out.String()
	for _, want := range []string{
		"Commands:", "  config ", "  hash-password ", "  load ", "  version ", "  help ",
		"\nRooms:\n", "\nSFU:\n", "\nTURN:\n", "\nTLS:\n", "\nSecurity:\n",
		"--mesh-max int", "(default 6)", "--sfu-loopback  ", "--sfu-port int", "--sfu-listen string",
		"--turn-tls string", "--mesh-down int", "--embed-origins list", "--hsts-max-age duration",
		"(default :8080)", "[PARLEY_MESH_MAX]",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(help, "--sfu-loopback string") || strings.Contains(help, "--mesh-max string") {
		t.Error("a number or boolean flag is typed string")
	}
	for _, line := range strings.Split(help, "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("help line of %d columns: %q", n, line)
		}
	}
	out.Reset()
	if code := runHelp(context.Background(), []string{"config"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "parley config check FILE") {
		t.Errorf("parley help config: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := runHelp(context.Background(), []string{"load"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-participants") {
		t.Errorf("parley help load: exit %d, %q", code, out.String())
	}
	errb.Reset()
	if code := runHelp(context.Background(), []string{"nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "no command \"nope\"") {
		t.Errorf("parley help nope: exit %d, %q", code, errb.String())
	}
	if _, ok := commands()["help"]; !ok {
		t.Error("help is not a command, so `parley help` would start the server")
	}
}
