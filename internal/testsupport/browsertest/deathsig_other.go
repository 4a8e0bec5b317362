//go:build !linux

package browsertest

import "os/exec"

// deathSignal does nothing where there is no parent-death signal.
func deathSignal(*exec.Cmd) {}
