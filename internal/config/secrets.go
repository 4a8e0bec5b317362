package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// maxSecretFile bounds a secret file: secrets are short, and a path that
// points at something big is a mistake.
const maxSecretFile = 64 << 10

// secretFiles pairs every secret key with the key naming a file that holds
// it, so secrets need not sit in the config file or the environment.
func (c *Config) secretFiles() []struct {
	fileKey, key string
	file         string
	dst          *string
} {
	return []struct {
		fileKey, key string
		file         string
		dst          *string
	}{
		{"admin_token_file", "admin_token", c.AdminTokenFile, &c.AdminToken},
		{"turn.secret_file", "turn.secret", c.TURN.SecretFile, &c.TURN.Secret},
		{"metrics.token_file", "metrics.token", c.Metrics.TokenFile, &c.Metrics.Token},
		{"access.token_secret_file", "access.token_secret", c.Access.TokenSecretFile, &c.Access.TokenSecret},
		{"cluster.secret_file", "cluster.secret", c.Cluster.SecretFile, &c.Cluster.Secret},
	}
}

// ResolveSecrets reads every *_file secret key into its secret key. A file
// that group or others may read is refused: the secret would already be
// out. Setting both a secret and its file is an error, so it is never
// unclear which one is in force.
func (c *Config) ResolveSecrets() error {
	var errs []error
	for _, s := range c.secretFiles() {
		if s.file == "" {
			continue
		}
		if *s.dst != "" {
			errs = append(errs, fmt.Errorf("%s: set %s or %s, not both", s.fileKey, s.key, s.fileKey))
			continue
		}
		v, err := readSecretFile(s.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.fileKey, err))
			continue
		}
		*s.dst = v
	}
	return errors.Join(errs...)
}

// readSecretFile reads a secret, refusing files with group or other
// permissions. Surrounding whitespace (the trailing newline of echo) is
// dropped.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by group or others (mode %04o); run chmod 600 %s", path, perm, path)
	}
	if fi.Size() > maxSecretFile {
		return "", fmt.Errorf("%s is %d bytes; a secret file holds one short line", path, fi.Size())
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}
