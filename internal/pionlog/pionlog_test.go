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

// TestFaultsStayVisible: with everything pion says mapped to debug, a
// server fault is still logged at warn, and a normal session's "Failed to
// close …" is not.
func TestFaultsStayVisible(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	quiet := Levels{Trace: slog.LevelDebug - 4, Debug: slog.LevelDebug - 2, Info: slog.LevelDebug, Warn: slog.LevelDebug, Error: slog.LevelDebug}
	l := Factory{Log: log, Levels: quiet}.NewLogger("ice")
	l.Warnf("Failed to close candidate: %v", "use of closed network connection")
	l.Errorf("Failed to accept data channel: %v", "EOF")
	l.Warn("UDPMuxDefault should not listening on unspecified address, use NewMultiUDPMuxFromPort instead")
	l.Warnf("Failed to listen %s: %v", "udp4 0.0.0.0:7882", "address already in use")
	out := buf.String()
	if strings.Contains(out, "close candidate") || strings.Contains(out, "accept data channel") || strings.Contains(out, "UDPMuxDefault") {
		t.Errorf("a normal session's pion message reached info:\n%s", out)
	}
	if !strings.Contains(out, `level=WARN msg="Failed to listen udp4 0.0.0.0:7882: address already in use"`) {
		t.Errorf("a server fault was hidden:\n%s", out)
	}
}
