package turn

import (
	"log/slog"

	"github.com/parleyhq/parley/internal/pionlog"
)

// levelTrace is below slog.LevelDebug: pion/turn logs every datagram at
// Debug/Trace, which would drown Parley's own debug output.
const levelTrace = slog.LevelDebug - 4

// pionLevels: pion logs at Info, Warn and Error for things any client can
// trigger (unknown attributes, refused permissions, packets from peers
// without a permission): passed through as they are, one client could flood
// the operator's log. So pion's Info/Warn/Error go to Debug and its
// Debug/Trace below it; Parley logs what matters itself.
var pionLevels = pionlog.Levels{
	Trace: levelTrace, Debug: levelTrace,
	Info: slog.LevelDebug, Warn: slog.LevelDebug, Error: slog.LevelDebug,
}
