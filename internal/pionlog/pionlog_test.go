package pionlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelsAndScope(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f := Factory{Log: log, Levels: Levels{Trace: slog.LevelDebug, Debug: slog.LevelDebug, Info: slog.LevelDebug, Warn: slog.LevelInfo, Error: slog.LevelWarn}}
	l := f.NewLogger("ice")
	l.Infof("hidden %d", 1)
	l.Warnf("shown %d", 2)
	l.Error("err")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("pion info mapped to debug was logged at info level:\n%s", out)
	}
	for _, want := range []string{`level=INFO msg="shown 2" pion=ice`, `level=WARN msg=err pion=ice`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
