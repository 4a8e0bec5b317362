package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/parleyhq/parley/internal/config"
)

// runHelp is `parley help [COMMAND]`: the server's flags and the
// commands, or one command's usage. Exit 0, or 2 for an unknown command.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeHelp(stdout)
		return exitOK
	}
	name := args[0]
	cmd, ok := commands()[name]
	if !ok || len(args) > 1 {
		fmt.Fprintf(stderr, "parley: no command %q; the commands are:\n", name)
		writeCommands(stderr)
		return exitUsage
	}
	if cmd.usage == "" {
		// The command documents its own flags (parley load -h).
		cmd.run(ctx, []string{"-h"}, stdout, stdout)
		return exitOK
	}
	fmt.Fprintf(stdout, "usage: %s\n\n%s\n", cmd.usage, cmd.summary)
	return exitOK
}

// commandWidth fits a command's summary beside its name in 80 columns.
const commandWidth = 80 - 18

// writeHelp is the help of `parley`, `parley -h` and `parley help`.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, `Parley: a self-hosted video conferencing server (web client, signaling, SFU
and TURN in one binary).

Usage:
  parley [FLAGS]            run the server
  parley COMMAND [ARGS]     run a command
  parley help [COMMAND]     this help, or a command's

Commands:
`)
	writeCommands(w)
	fmt.Fprint(w, `
Server flags. Each sets a configuration key that can also come from its
[PARLEY_* variable] or the --config file; flags win over variables, which win
over the file. docs/config.md lists every key, with or without a flag.
`)
	config.WriteFlagHelp(w)
}

// writeCommands lists the commands, sorted, one line each.
func writeCommands(w io.Writer) {
	cmds := commands()
	var names []string
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for i, line := range config.Wrap(cmds[n].summary, commandWidth) {
			if i == 0 {
				fmt.Fprintf(w, "  %-15s %s\n", n, line)
			} else {
				fmt.Fprintf(w, "%18s%s\n", "", line)
			}
		}
	}
}
