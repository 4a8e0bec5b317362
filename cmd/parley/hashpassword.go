package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// hashCost is the bcrypt cost of room passwords: about 50 ms on a small
// server per join with a password, a lot per guess.
const hashCost = 12

// runHashPassword is `parley hash-password`: it reads a password from
// stdin (without echo on a terminal, asked twice) and prints its bcrypt
// hash for access.password_hash or access.room_passwords.
func runHashPassword(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: parley hash-password   (reads the password from stdin)")
		return exitUsage
	}
	pw, err := readPassword(os.Stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitInvalid
	}
	h, err := hashPassword(pw)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitInvalid
	}
	fmt.Fprintln(stdout, h)
	return exitOK
}

// hashPassword checks and hashes one password.
func hashPassword(pw string) (string, error) {
	if pw == "" {
		return "", fmt.Errorf("empty password")
	}
	if len(pw) > 72 {
		return "", fmt.Errorf("bcrypt uses only the first 72 bytes; choose a shorter password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), hashCost)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return string(h), nil
}

// readPassword reads one line: on a terminal without echo and twice, to
// catch typos; from a pipe as is (echo -n pw | parley hash-password).
func readPassword(in *os.File, prompt io.Writer) (string, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(prompt, "Password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(prompt, "Again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(a) != string(b) {
		return "", fmt.Errorf("the passwords differ")
	}
	return string(a), nil
}
