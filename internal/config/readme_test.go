package config

import (
	"os"
	"strings"
	"testing"
)

const (
	readmePath = "../../README.md"
	flagsStart = "<!-- flags:begin -->\n"
	flagsEnd   = "<!-- flags:end -->"
)

// TestReadmeFlagsCurrent keeps README.md's flag table equal to
// FlagsMarkdown(), the source --help uses too. Run
// `go test ./internal/config -update` after adding a flag.
func TestReadmeFlagsCurrent(t *testing.T) {
	doc, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, flagsStart), strings.Index(s, flagsEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", readmePath, flagsStart, flagsEnd)
	}
	want := s[:i+len(flagsStart)] + FlagsMarkdown() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s's flag table is out of date: run go test ./internal/config -update", readmePath)
}
