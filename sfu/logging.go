package sfu

import (
	"log/slog"

	"github.com/parleyhq/parley/internal/pionlog"
)

// pionLevels: pion is chatty at info level (every candidate, every DTLS
// step), and its warnings and errors in a healthy call are about what a
// remote peer did or a connection's normal end ("Failed to close …", an
// mDNS candidate, a late packet): about 150 of 214 info lines of a short
// session were such. So all of it goes to slog's debug level; the few
// messages that mean the server itself is broken are kept at warn by
// pionlog (faults.go), and the SFU logs its own faults itself.
var pionLevels = pionlog.Levels{
	Trace: slog.LevelDebug - 4, Debug: slog.LevelDebug - 2,
	Info: slog.LevelDebug, Warn: slog.LevelDebug, Error: slog.LevelDebug,
}
