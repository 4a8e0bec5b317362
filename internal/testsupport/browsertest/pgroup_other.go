//go:build !unix

package browsertest

import "os/exec"

// setProcessGroup does nothing here: process groups are a Unix notion.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the browser process only.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
