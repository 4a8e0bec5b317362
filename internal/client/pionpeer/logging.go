package pionpeer

import (
	"log/slog"

	"github.com/parleyhq/parley/internal/pionlog"
)

// LevelPionDebug is the slog level pion's debug logs are emitted at; pion's
// trace logs are one step below it.
const LevelPionDebug = slog.LevelDebug - 2

// pionLevels routes pion's logs into the participant's slog.Logger, so they
// follow the caller's level and destination instead of going to stderr:
// with dozens of participants in a test, pion's own logger would print
// expected noise into every run. pion's Debug (a line per track, candidate
// and state change) and Trace sit below slog's Debug, so that a caller's
// Debug shows this package's negotiation steps without drowning them; ask
// for LevelPionDebug to see pion's too.
var pionLevels = pionlog.Levels{
	Trace: LevelPionDebug - 2, Debug: LevelPionDebug,
	Info: slog.LevelInfo, Warn: slog.LevelWarn, Error: slog.LevelError,
}
