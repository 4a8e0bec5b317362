//go:build unix

package browsertest

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestFirefoxStops checks that the end of a test leaves no process of
// Firefox's process group and no profile behind.
func TestFirefoxStops(t *testing.T) {
	var pid int
	var profile string
	t.Run("run", func(t *testing.T) {
		f := NewFirefox(t)
		pid, profile = f.cmd.Process.Pid, f.profile
		f.NewPage(t, "about:blank")
	})
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("Firefox's process group %d outlived its test (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(profile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile %s kept (%v)", profile, err)
	}
}
