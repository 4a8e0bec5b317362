package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md's key table")

const (
	docPath    = "../../docs/config.md"
	tableStart = "<!-- keys:begin -->\n"
	tableEnd   = "<!-- keys:end -->"
)

// TestConfigDocCurrent keeps docs/config.md's table equal to Markdown().
// Run `go test ./internal/config -update` after adding a key.
func TestConfigDocCurrent(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, tableStart), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", docPath, tableStart, tableEnd)
	}
	want := s[:i+len(tableStart)] + Markdown() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is out of date: run go test ./internal/config -update", docPath)
}
