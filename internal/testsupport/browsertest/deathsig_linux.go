//go:build linux

package browsertest

import (
	"os/exec"
	"syscall"
)

// deathSignal kills cmd when the test process dies, as chromedp's default
// command options do on Linux.
func deathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
