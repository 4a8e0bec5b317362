package main

import (
	"context"
	"io"
)

// command is a subcommand of the binary: `parley NAME args…`. Without a
// known command name as the first argument, parley runs the server.
type command struct {
	// summary is the one-line description `parley help` prints.
	summary string
	// usage is the synopsis `parley help NAME` prints; empty: the
	// command prints its own help when run with -h.
	usage string
	// run executes the command and returns the process exit status.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands. Each lives in a file of its own named
// for it; add it here with one line.
func commands() map[string]command {
	return map[string]command{
		"load":          {summary: "drive synthetic pion participants against a server and report what they measured", run: runLoad},
		"version":       {summary: "print the version and build information", usage: "parley version", run: runVersion},
		"config":        {summary: "validate a config file without starting (exit 0 ok, 1 invalid, 2 usage)", usage: "parley config check FILE", run: runConfig},
		"hash-password": {summary: "read a password from stdin and print its bcrypt hash for access.password_hash", usage: "parley hash-password   (reads the password from stdin)", run: runHashPassword},
		"help":          {summary: "show this help, or a command's", usage: "parley help [COMMAND]", run: runHelp},
	}
}

// firstArg returns args[0], or "" when there is none.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
