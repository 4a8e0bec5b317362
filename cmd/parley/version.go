package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3" (make release does); "dev" otherwise.
// It is the one package-level variable: the linker can only set those.
var version = "dev"

// runVersion prints the version and the build information Go records in
// every binary: toolchain, module, VCS revision, build settings.
func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "parley %s\n", version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return 0
	}
	fmt.Fprintf(stdout, "go %s\n", bi.GoVersion)
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		fmt.Fprintf(stdout, "module %s %s\n", bi.Main.Path, bi.Main.Version)
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "CGO_ENABLED", "-trimpath":
			fmt.Fprintf(stdout, "%s %s\n", s.Key, s.Value)
		}
	}
	return 0
}
