package logsafe

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestValueCaps(t *testing.T) {
	if got := Value("https://meet.example.org"); got != "https://meet.example.org" {
		t.Fatalf("short value changed: %q", got)
	}
	exact := strings.Repeat("a", MaxValueBytes)
	if Value(exact) != exact {
		t.Fatal("a value of exactly MaxValueBytes was cut")
	}
	long := strings.Repeat("x", 900<<10) // the 900 KB Origin of the report
	got := Value(long)
	if len(got) != MaxValueBytes+len(TruncatedMark) || !strings.HasSuffix(got, TruncatedMark) {
		t.Fatalf("900 KB value logged as %d bytes, want %d ending in %q", len(got), MaxValueBytes+len(TruncatedMark), TruncatedMark)
	}
	// A multi-byte rune straddling the cut is dropped whole.
	wide := strings.Repeat("a", MaxValueBytes-1) + "é" + "zzz"
	if got := Value(wide); !utf8.ValidString(got) || strings.Contains(got, "é") {
		t.Fatalf("cut inside a rune: %q", got[len(got)-20:])
	}
}

func TestStringAttr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("refused", String("origin", strings.Repeat("o", 10000)))
	if buf.Len() > MaxValueBytes+200 {
		t.Fatalf("a 10 KB value made a %d-byte line", buf.Len())
	}
	if !strings.Contains(buf.String(), "truncated") {
		t.Fatalf("no truncation mark: %s", buf.String())
	}
}

func TestLimiterOncePerIntervalWithCount(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := NewLimiter(log, time.Second)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()

	if !l.Warn(ctx, "origin", "origin refused") {
		t.Fatal("first line not logged")
	}
	for range 1000 {
		if l.Warn(ctx, "origin", "origin refused") {
			t.Fatal("a repeat within the interval was logged")
		}
	}
	if !l.Warn(ctx, "token", "bad token") {
		t.Fatal("another reason was held back by the first")
	}
	now = now.Add(time.Second)
	if !l.Warn(ctx, "origin", "origin refused") {
		t.Fatal("not logged after the interval")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], SuppressedKey) || !strings.Contains(lines[2], SuppressedKey+"=1000") {
		t.Fatalf("suppressed count wrong:\n%s", buf.String())
	}
}

func TestLimiterBoundedReasons(t *testing.T) {
	l := NewLimiter(slog.New(slog.DiscardHandler), time.Second)
	for i := range 10 * maxReasons {
		l.Warn(context.Background(), strings.Repeat("r", i%50)+string(rune('a'+i%26))+string(rune(i)), "x")
	}
	if len(l.reasons) > maxReasons+1 {
		t.Fatalf("%d reasons kept, bound is %d", len(l.reasons), maxReasons)
	}
}

func TestLimiterDisabledLevelCountsNothing(t *testing.T) {
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError}))
	l := NewLimiter(log, time.Second)
	if l.Debug(context.Background(), "x", "hidden") || len(l.reasons) != 0 {
		t.Fatal("a disabled level was logged or counted")
	}
}
