package pionpeer

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion's logs into the participant's slog.Logger, so
// they follow the caller's level and destination instead of going to
// stderr: with dozens of participants in a test, pion's own logger would
// print expected noise (such as candidates of a replaced connection being
// dropped) into every run.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("pion", scope)}
}

// slogLogger maps pion's levels onto slog's. pion's Debug (a line per
// track, candidate and state change) and Trace sit below slog's Debug, so
// that a caller's Debug shows this package's negotiation steps without
// drowning them; ask for LevelPionDebug to see pion's too.
type slogLogger struct{ log *slog.Logger }

// LevelPionDebug is the slog level pion's debug logs are emitted at; pion's
// trace logs are one step below it.
const LevelPionDebug = slog.LevelDebug - 2

const levelTrace = LevelPionDebug - 2

func (l slogLogger) logf(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (l slogLogger) Trace(msg string)                  { l.logf(levelTrace, "%s", msg) }
func (l slogLogger) Tracef(format string, args ...any) { l.logf(levelTrace, format, args...) }
func (l slogLogger) Debug(msg string)                  { l.logf(LevelPionDebug, "%s", msg) }
func (l slogLogger) Debugf(format string, args ...any) { l.logf(LevelPionDebug, format, args...) }
func (l slogLogger) Info(msg string)                   { l.logf(slog.LevelInfo, "%s", msg) }
func (l slogLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args...) }
func (l slogLogger) Warn(msg string)                   { l.logf(slog.LevelWarn, "%s", msg) }
func (l slogLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }
func (l slogLogger) Error(msg string)                  { l.logf(slog.LevelError, "%s", msg) }
func (l slogLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
