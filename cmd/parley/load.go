package main

import (
	"context"
	"io"

	"github.com/parleyhq/parley/internal/client/load"
)

// runLoad is `parley load`: synthetic pion participants against a server,
// with a report of what they measured (docs/load.md).
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return load.Main(ctx, args, stdout, stderr)
}
