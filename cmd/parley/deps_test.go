package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestSupport: the parley binary never links the test
// support packages (internal/testsupport: the hostile-server proxy, the
// browser harness, test servers and certificates); they are for tests only.
func TestBinaryLinksNoTestSupport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "/internal/testsupport/") {
			t.Errorf("the binary links %s", pkg)
		}
	}
}
