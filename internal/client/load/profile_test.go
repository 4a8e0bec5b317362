package load

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// TestProfileSFU is not a test but a harness for profiling the server's
// forwarding path under the load tool, with the server in the same process
// so that go test's profiles see it:
//
//	PARLEY_LOAD_PROFILE=50 go test -run TestProfileSFU -count=1 \
//	    -cpuprofile /tmp/cpu.out -memprofile /tmp/mem.out ./internal/client/load
//	go tool pprof -top -focus 'parley/sfu|pion/(webrtc|srtp|interceptor|ice)' /tmp/cpu.out
//
// The value is the number of subscribers of one 800 kbit/s publisher.
// Skipped unless the variable is set.
func TestProfileSFU(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PARLEY_LOAD_PROFILE"))
	if n <= 0 {
		t.Skip("set PARLEY_LOAD_PROFILE=N to profile 1 → N forwarding")
	}
	srv := testserver.Start(t, func(c *config.Config) { c.LogLevel = "warn"; c.RoomMax = 500 })
	args := []string{"--url", srv.URL, "--rooms", "1", "--participants", strconv.Itoa(n + 1), "--publishers", "1",
		"--policy", "sfu-only", "--admin-token", testserver.AdminToken, "--duration", "20s", "--ramp", "20", "--quiet"}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if code := Main(ctx, args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	t.Logf("\n%s", out.String())
}
