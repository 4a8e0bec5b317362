package server

import (
	"context"
	"log"
	"log/slog"
	"strings"

	"github.com/parleyhq/parley/internal/logsafe"
)

// httpErrorLog is the ErrorLog of Parley's http.Servers. net/http writes
// a line for every failed TLS handshake or malformed request, which any
// client can cause as often as it likes and which quotes what the client
// sent (a host name, a header): so lines are capped and logged at debug at
// most once a second, with the count of the ones left out.
func httpErrorLog(l *slog.Logger) *log.Logger {
	return log.New(errLogWriter{logsafe.NewLimiter(l, logsafe.DefaultInterval)}, "", 0)
}

type errLogWriter struct{ lim *logsafe.Limiter }

func (w errLogWriter) Write(p []byte) (int, error) {
	w.lim.Debug(context.Background(), "http-server", "http server", logsafe.String("err", strings.TrimSpace(string(p))))
	return len(p), nil
}
