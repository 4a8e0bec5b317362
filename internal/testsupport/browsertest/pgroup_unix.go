//go:build unix

package browsertest

import (
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// groupGoneTimeout bounds the wait for a killed process group to be gone
// (its processes reaped by their new parent).
const groupGoneTimeout = 10 * time.Second

// setProcessGroup starts cmd as the leader of a new process group, so
// killProcessGroup also ends the browser's child processes.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills cmd's whole process group (cmd has started) and
// waits, up to groupGoneTimeout, until none of its processes is left.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	pgid := -cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	deadline := time.Now().Add(groupGoneTimeout)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pgid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
