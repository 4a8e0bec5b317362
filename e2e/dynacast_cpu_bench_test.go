package e2e

// What dynacast saves a publisher: two Chromium pages in an SFU room, each
// sending its 640×360 camera as two simulcast layers (320×180 and
// 640×360) and showing the other's large. Dynacast tells each browser
// that nobody receives its 320×180 layer, which it then stops encoding;
// with `sfu.dynacast` off it encodes both.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// BenchmarkDynacastPublisherCPU measures, for 15 s, the CPU of the whole
// browser (both pages: each publishes and receives) with dynacast on and
// off, and checks first that the encodings are the ones each setting
// should give: one active with dynacast, two without.
//
//	go test ./e2e -run '^$' -bench BenchmarkDynacastPublisherCPU -benchtime 1x -timeout 20m
//
// Reported: cpu-ms/s/page, and the frames each page encodes per second.
func BenchmarkDynacastPublisherCPU(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("dynacast=%v", on), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dynacastCPU(b, on)
			}
		})
	}
}

// dynacastCPU runs one two-page SFU call and reports its figures.
func dynacastCPU(b *testing.B, dynacast bool) {
	b.StopTimer()
	ts := testserver.Start(b, func(c *config.Config) {
		c.Policy = "sfu-only"
		c.SFU.Dynacast = dynacast
	})
	dir := b.TempDir()
	br := browsertest.New(b, browsertest.WithFlag("user-data-dir", dir), browsertest.WithWindowSize(1280, 800))
	room, secret := browserRoom("bench-dynacast"), roomSecret()
	pages := make([]*browsertest.Page, 2)
	for i := range pages {
		url := strings.Replace(e2eeRoomURL(ts, room, fmt.Sprintf("P%d", i), secret), "quality=low", "quality=normal", 1)
		pages[i] = br.NewPage(b, url)
	}
	everyTile := fmt.Sprintf(`(() => {
  const f = Object.values(%s);
  return f.length === 1 && f.every((n) => n > 0);
})()`, jsRemoteFrames)
	for _, p := range pages {
		if _, err := p.WaitFor(everyTile, 3*time.Minute); err != nil {
			b.Fatalf("the other's tile does not decode: %v", err)
		}
	}
	want := map[bool]int{true: 1, false: 2}[dynacast]
	admin := newAdminClient(b, ts, testserver.AdminToken)
	for i, p := range pages {
		deadline := time.Now().Add(time.Minute)
		for n, active := 0, activeEncodings(b, p); active != want; n, active = n+1, activeEncodings(b, p) {
			if time.Now().After(deadline) || n%20 == 19 {
				// What the SFU does about it: the estimate, and per
				// tile the layer its view wants and the one it gets.
				rec, _ := json.Marshal(admin.room(room).Receiving)
				b.Logf("P%d: %d active encodings with dynacast %v, want %d: %s; the SFU: %s", i, active, dynacast, want, browsertest.MustEval[string](p, jsOutboundVideo), rec)
				for j, q := range pages {
					b.Logf("P%d is %s, sends %s, offers %s", j, browsertest.MustEval[string](q, `parley.id`), browsertest.MustEval[string](q, jsOutboundVideo),
						browsertest.MustEval[string](q, `JSON.stringify((parley.sfu()?.pc?.localDescription?.sdp ?? '').split('\r\n').filter((l) => /^a=(rid|simulcast)/.test(l)))`))
				}
			}
			if time.Now().After(deadline) {
				b.FailNow()
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second) // the encoders settle after the change

	encoded := func() float64 {
		var n float64
		for _, p := range pages {
			var rows [][]any
			if err := json.Unmarshal([]byte(browsertest.MustEval[string](p, jsOutboundVideo)), &rows); err != nil {
				b.Fatal(err)
			}
			for _, r := range rows {
				if f, ok := r[4].(float64); ok {
					n += f
				}
			}
		}
		return n
	}
	cpu, frames, elapsed := measureCPU(b, dir, encoded)
	b.ReportMetric(1000*cpu/elapsed/2, "cpu-ms/s/page")
	b.ReportMetric(frames/elapsed/2, "encoded-frames/s/page")
	b.Logf("dynacast %v: %.2f CPU-s in %.1f s, %d active encodings per page, %.0f frames encoded; %s",
		dynacast, cpu, elapsed, want, frames, loadAvg())
}

// activeEncodings counts the camera's simulcast encodings page p sends now
// (getStats outbound-rtp `active`, rows with a rid: the screen slot has
// none).
func activeEncodings(b *testing.B, p *browsertest.Page) int {
	var rows [][]any
	if err := json.Unmarshal([]byte(browsertest.MustEval[string](p, jsOutboundVideo)), &rows); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r[0] != "-" && r[1] == true {
			n++
		}
	}
	return n
}
