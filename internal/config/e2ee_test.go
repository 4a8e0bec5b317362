package config

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestE2EEUnencryptedRooms: no room is unencrypted by default; the key is
// read from the file, the env and the flag; bad patterns are refused with
// the key's name.
func TestE2EEUnencryptedRooms(t *testing.T) {
	if got := Default().E2EE.UnencryptedRooms; len(got) != 0 {
		t.Fatalf("default unencrypted rooms %v, want none (every room encrypted)", got)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"env", nil, map[string]string{"PARLEY_E2EE_UNENCRYPTED_ROOMS": "load-*, bench"}, []string{"load-*", "bench"}},
		{"flag", []string{"--unencrypted-rooms", "a,b?"}, nil, []string{"a", "b?"}},
		{"file", []string{"--config", writeFile(t, "e2ee:\n  unencrypted_rooms: [\"load-[0-9]*\"]\n")}, nil, []string{"load-[0-9]*"}},
	} {
		cfg, err := Load(tc.args, env(tc.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(cfg.E2EE.UnencryptedRooms, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, cfg.E2EE.UnencryptedRooms, tc.want)
		}
	}
	for _, bad := range []string{"load-[", "a b", "a/b", "", strings.Repeat("a", 65)} {
		c := Default()
		c.E2EE.UnencryptedRooms = []string{bad}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "e2ee.unencrypted_rooms") {
			t.Errorf("pattern %q: error %v, want one naming e2ee.unencrypted_rooms", bad, err)
		}
	}
}
