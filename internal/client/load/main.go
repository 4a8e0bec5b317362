// Package load is `parley load`: synthetic participants, made with
// pion/webrtc by internal/client/pionpeer, join rooms on a Parley server through
// the real signaling protocol, publish VP8 and Opus with a stamp (packet
// number and send time) at the end of every payload, and measure what they
// receive — join time, loss, jitter, one-way latency, the longest gap of
// every remote stream across mesh ⇄ SFU switches — next to the server's CPU
// and memory. Publishers may send simulcast, viewers may declare a browser
// grid's viewport (view.go, layout.go) and sit behind a capped downlink,
// and the report then says what each viewer received against what its
// tiles need. docs/load.md is the user guide; docs/benchmarks.md
// holds the figures taken with it.
//
// The tool talks only to the --url it is given, bounds its participant
// count, bitrate and duration (options.go) and stops by itself.
package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Main runs `parley load ARGS` and returns the exit status: 0 after a run
// (whatever it measured), 1 when the run could not take place or nobody
// joined, 2 for a bad command line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley load:", err)
		return 2
	}
	rep, err := Run(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley load:", err)
		return 1
	}
	if opts.JSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley load:", err)
		return 1
	}
	if rep.Joined == 0 {
		return 1
	}
	return 0
}
