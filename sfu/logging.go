package sfu

import (
	"log/slog"

	"github.com/parleyhq/parley/internal/pionlog"
)

// pionLevels: pion is chatty at info level (every candidate, every DTLS
// step), so its info goes to slog's debug level; its warnings are mostly
// about what a remote peer did (an mDNS candidate, a late packet), so they
// go to info, and its errors to warn: the SFU logs its own faults itself.
var pionLevels = pionlog.Levels{
	Trace: slog.LevelDebug - 4, Debug: slog.LevelDebug - 2,
	Info: slog.LevelDebug, Warn: slog.LevelInfo, Error: slog.LevelWarn,
}
