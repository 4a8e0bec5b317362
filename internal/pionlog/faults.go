package pionlog

import (
	"log/slog"
	"strings"
)

// FaultLevel is the least level a fault of this server (faultPrefixes)
// is logged at, whatever level pion gave it and whatever Levels maps that
// to: an operator must see it.
const FaultLevel = slog.LevelWarn

// faultPrefixes are the starts of pion's messages that mean this server
// cannot work as configured (a socket it cannot open, an interface list it
// cannot read, a transport that does not start), as opposed to what a
// remote peer did or a connection's normal end ("Failed to close …",
// "Failed to accept RTCP …", "Discarding remote candidate …"), which are
// most of pion's warnings and errors in a healthy call. Matched against
// pion's format string, so no message is formatted to be classified.
func faultPrefixes() []string {
	return []string{
		"Failed to listen",
		"Failed to start manager",
		"Failed to start SCTP",
		"Failed to iterate local interfaces",
		"Failed to get local interfaces",
		"Failed to get initial interfaces",
		"Failed to initialize mDNS",
		"Failed to gather relay candidates",
		"Failed to resolve UDP address",
		"Failed to resolve TCP address",
		"Failed to get port of UDPAddr",
	}
}

// isFault reports whether a pion message is one of faultPrefixes.
func isFault(format string) bool {
	for _, p := range faultPrefixes() {
		if strings.HasPrefix(format, p) {
			return true
		}
	}
	return false
}
