// Command parley is the Parley conferencing server: web client, signaling,
// SFU and TURN in one binary.
//
//	parley [--http :8080] [--config parley.yaml] [--mesh-max 6] ...
//	parley COMMAND [args]   (see commands.go)
//
// Flags override PARLEY_* environment variables, which override the config
// file, which overrides the defaults. See docs/config.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd, ok := commands()[firstArg(os.Args[1:])]; ok {
		os.Exit(cmd.run(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(os.Stdout)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "parley:", err)
		if isUsageError(err) {
			fmt.Fprintln(os.Stderr, "parley: run 'parley help' for the flags and commands")
		}
		os.Exit(1)
	}
}

// isUsageError reports whether err is the flag package's complaint about
// the command line (an unknown flag or a missing value), which the help
// answers.
func isUsageError(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "flag provided but not defined") || strings.HasPrefix(s, "flag needs an argument") ||
		strings.HasPrefix(s, "unexpected argument")
}

// run starts the server and blocks until ctx ends.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	cfg, err := config.Load(args, lookup, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if cfg.AdminToken == "" {
		cfg.AdminToken = terminalAdminToken(stderr)
	}
	srv, err := server.New(cfg, log, server.WithVersion(version))
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// newLogger builds the process's structured logger from the config.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // Validate accepted it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// terminalAdminToken makes a one-run admin token when Parley runs on an
// interactive terminal (make run) and prints it there, not in the log:
// tokens never go into logs. Elsewhere it returns "" and the admin API
// stays locked until admin_token is configured.
func terminalAdminToken(w io.Writer) string {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return ""
	}
	b := make([]byte, 18)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	fmt.Fprintf(w, "parley: no admin_token configured; admin token for this run: %s\n", tok)
	return tok
}
