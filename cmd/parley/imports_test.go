package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// modulePath prefixes every package of Parley's.
const modulePath = "github.com/parleyhq/parley/"

// architectureDoc holds the import map TestImportsAsDocumented enforces.
const architectureDoc = "../../docs/architecture.md"

// TestImportsAsDocumented: docs/architecture.md §3 lists, for each package,
// every package of Parley's it imports (test files aside). Every real
// import must be listed and every listed import must be real, so the map a
// newcomer reads is the code's.
func TestImportsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile(architectureDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented, err := parseImportMap(string(doc))
	if err != nil {
		t.Fatalf("%s §3: %v", architectureDoc, err)
	}
	actual := moduleImports(t)
	for pkg, imps := range actual {
		for _, imp := range imps {
			if !slices.Contains(documented[pkg], imp) {
				t.Errorf("%s imports %s, which %s §3 does not allow: list it there (with why) or drop the import", pkg, imp, architectureDoc)
			}
		}
	}
	for pkg, imps := range documented {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("%s §3 names %s, which is not a package of this module", architectureDoc, pkg)
			continue
		}
		for _, imp := range imps {
			if !slices.Contains(actual[pkg], imp) {
				t.Errorf("%s §3 says %s imports %s, but it does not: update the map", architectureDoc, pkg, imp)
			}
		}
	}
}

// moduleImports maps each package of the module (relative to its root) to
// the module's packages its non-test files import, sorted.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	got := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		name, ok := strings.CutPrefix(p.ImportPath, modulePath)
		if !ok {
			t.Fatalf("package %s is outside %s", p.ImportPath, modulePath)
		}
		imps := []string{}
		for _, imp := range p.Imports {
			if rel, ok := strings.CutPrefix(imp, modulePath); ok {
				imps = append(imps, rel)
			}
		}
		slices.Sort(imps)
		got[name] = imps
	}
	if len(got) == 0 {
		t.Fatal("go list found no packages")
	}
	return got
}

// importLine is one line of the map: package ──▶ imports (comment).
var importLine = regexp.MustCompile(`^(\S+)\s+──▶\s+(.*?)\s*(\(.*\))?$`)

// parseImportMap reads the first code block of the "## 3." section of the
// architecture doc: one line per importing package.
func parseImportMap(doc string) (map[string][]string, error) {
	_, sec, ok := strings.Cut(doc, "\n## 3.")
	if !ok {
		return nil, errors.New("no section 3")
	}
	_, block, ok := strings.Cut(sec, "\n```\n")
	if !ok {
		return nil, errors.New("no code block")
	}
	block, _, ok = strings.Cut(block, "\n```")
	if !ok {
		return nil, errors.New("unterminated code block")
	}
	m := map[string][]string{}
	for line := range strings.SplitSeq(block, "\n") {
		f := importLine.FindStringSubmatch(strings.TrimSpace(line))
		if f == nil {
			return nil, errors.New("not a `package ──▶ imports` line: " + line)
		}
		if _, dup := m[f[1]]; dup {
			return nil, errors.New(f[1] + " has two lines")
		}
		var imps []string
		for item := range strings.SplitSeq(expandBraces(f[2]), ",") {
			if item = strings.TrimSpace(item); item != "" {
				imps = append(imps, item)
			}
		}
		m[f[1]] = imps
	}
	return m, nil
}

// expandBraces turns "internal/{a,b}" into "internal/a,internal/b".
func expandBraces(s string) string {
	brace := regexp.MustCompile(`(\S*)\{([^}]*)\}`)
	return brace.ReplaceAllStringFunc(s, func(m string) string {
		p := brace.FindStringSubmatch(m)
		var out []string
		for alt := range strings.SplitSeq(p[2], ",") {
			out = append(out, p[1]+strings.TrimSpace(alt))
		}
		return strings.Join(out, ",")
	})
}
