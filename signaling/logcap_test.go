package signaling

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleyhq/parley/internal/logsafe"
)

// TestFloodAndRefusalLogsCapped: floods from several connections at once
// make at most one "flooding" line a second (with the count of the others),
// and a refused message's ref, which the client chooses, reaches the debug
// log capped and marked.
func TestFloodAndRefusalLogsCapped(t *testing.T) {
	var logs syncBuffer
	_, url := testHub(t, Options{RateLimit: 1, RateBurst: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	start := time.Now()
	const floods = 4
	for i := range floods {
		c, _ := join(t, url, fmt.Sprint("flood", i), "F")
		for range maxRefusals + 20 {
			c.send(map[string]any{"type": "key", "data": 1})
		}
		if code := c.expectClose(); code != websocket.ClosePolicyViolation {
			t.Fatalf("flood %d: close code %d, want 1008", i, code)
		}
	}
	most := 1 + int(time.Since(start)/logsafe.DefaultInterval)
	if n := strings.Count(logs.String(), "flooding; disconnecting"); n > most || n == 0 {
		t.Errorf("%d flooding lines for %d floods in %v, want 1 to %d:\n%.3000s", n, floods, time.Since(start), most, logs.String())
	}

	long := strings.Repeat("t", 5000)
	c := dial(t, url)
	c.send(map[string]any{"type": long})
	c.expectError(CodeUnknownType)
	c.ws.Close()
	out := logs.String()
	if strings.Contains(out, long[:logsafe.MaxValueBytes+1]) || !strings.Contains(out, logsafe.TruncatedMark) {
		t.Errorf("a 5000-byte message type reached the log uncapped or unmarked:\n%.3000s", out)
	}
}
