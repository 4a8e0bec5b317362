// Package pionlog routes pion's leveled logs into a slog.Logger, so that
// pion's messages land in Parley's structured log (with a "pion" scope
// attribute) at levels each user of pion chooses: the SFU, the TURN server
// and the test clients each judge pion's chattiness differently. Whatever
// the mapping, the few messages that mean this server itself is broken
// (faults.go) are logged at FaultLevel at least.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Levels maps pion's five levels onto slog levels.
type Levels struct {
	Trace, Debug, Info, Warn, Error slog.Level
}

// Factory implements logging.LoggerFactory on a slog.Logger.
type Factory struct {
	Log    *slog.Logger
	Levels Levels
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.Log.With("pion", scope), lv: &f.Levels}
}

// logger implements logging.LeveledLogger. It checks Enabled before
// formatting, so a disabled level costs no Sprintf.
type logger struct {
	log *slog.Logger
	lv  *Levels
}

func (l logger) logf(level slog.Level, format string, args ...any) {
	if level < FaultLevel && isFault(format) {
		level = FaultLevel
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, args...))
}

func (l logger) Trace(msg string)                  { l.logf(l.lv.Trace, "%s", msg) }
func (l logger) Tracef(format string, args ...any) { l.logf(l.lv.Trace, format, args...) }
func (l logger) Debug(msg string)                  { l.logf(l.lv.Debug, "%s", msg) }
func (l logger) Debugf(format string, args ...any) { l.logf(l.lv.Debug, format, args...) }
func (l logger) Info(msg string)                   { l.logf(l.lv.Info, "%s", msg) }
func (l logger) Infof(format string, args ...any)  { l.logf(l.lv.Info, format, args...) }
func (l logger) Warn(msg string)                   { l.logf(l.lv.Warn, "%s", msg) }
func (l logger) Warnf(format string, args ...any)  { l.logf(l.lv.Warn, format, args...) }
func (l logger) Error(msg string)                  { l.logf(l.lv.Error, "%s", msg) }
func (l logger) Errorf(format string, args ...any) { l.logf(l.lv.Error, format, args...) }
