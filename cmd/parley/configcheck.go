package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/parleyhq/parley/internal/config"
)

// Exit statuses of `parley config check`.
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
)

// runConfig is `parley config check FILE`: it loads FILE as the server
// would (with PARLEY_* variables applied and secret files read) and
// validates it without opening a socket. Exit 0: valid; 1: invalid, with
// every problem named; 2: wrong usage.
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return configCheck(args, os.LookupEnv, stdout, stderr)
}

func configCheck(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: parley config check FILE")
		return exitUsage
	}
	file := args[1]
	if _, err := config.Load([]string{"--config", file}, lookup, io.Discard); err != nil {
		fmt.Fprintf(stderr, "parley: %s: %v\n", file, err)
		return exitInvalid
	}
	fmt.Fprintf(stdout, "%s: ok\n", file)
	return exitOK
}
