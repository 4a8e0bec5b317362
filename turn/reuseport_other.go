//go:build !linux

package turn

import "syscall"

// reusePortBalances is false: outside Linux, SO_REUSEPORT does not spread
// unicast datagrams over the sockets sharing a port, so one socket is used.
const reusePortBalances = false

// reusePort does nothing where one socket per port is used.
func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
