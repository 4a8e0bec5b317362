//go:build linux

package turn

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortBalances is true where the kernel spreads datagrams for one port
// over every SO_REUSEPORT socket bound to it (by a hash of the 4-tuple, so
// one client always reaches the same socket, which pion/turn needs: each
// socket has its own allocation table).
const reusePortBalances = true

// reusePort is a net.ListenConfig.Control that sets SO_REUSEPORT, so several
// sockets can share the TURN port. Linux only lets sockets of the same user
// join the group, so another user cannot steal the port's traffic.
func reusePort(_, _ string, c syscall.RawConn) error {
	var sockErr error
	if err := c.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return fmt.Errorf("turn: raw socket control: %w", err)
	}
	if sockErr != nil {
		return fmt.Errorf("turn: set SO_REUSEPORT: %w", sockErr)
	}
	return nil
}
