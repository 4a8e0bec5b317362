package certfile

import (
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testsupport/testcert"
)

// names returns the DNS names of the certificate r serves now.
func names(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.DNSNames[0]
}

// replace copies the pair (from, fromKey) over (to, toKey) with a newer
// modification time, as a renewal does.
func replace(t *testing.T, from, fromKey, to, toKey string, at time.Time) {
	t.Helper()
	for src, dst := range map[string]string{from: to, fromKey: toKey} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dst, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReloadsRenewedFiles(t *testing.T) {
	certFile, keyFile, _ := testcert.Write(t, "old.test")
	newCert, newKey, _ := testcert.Write(t, "new.test")
	r, err := New(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, r); got != "old.test" {
		t.Fatalf("serves %s, want old.test", got)
	}

	// Renewed, but the interval has not passed: still the old one.
	replace(t, newCert, newKey, certFile, keyFile, time.Now().Add(time.Minute))
	if got := names(t, r); got != "old.test" {
		t.Errorf("before the check interval: serves %s, want old.test", got)
	}
	r.CheckInterval = 0
	if got := names(t, r); got != "new.test" {
		t.Errorf("after a renewal: serves %s, want new.test", got)
	}

	// A half-written renewal keeps the last good certificate.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Minute)
	if err := os.Chtimes(certFile, later, later); err != nil {
		t.Fatal(err)
	}
	if got := names(t, r); got != "new.test" {
		t.Errorf("after a broken write: serves %s, want new.test kept", got)
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	certFile, _, _ := testcert.Write(t, "x.test")
	if _, err := New(certFile, certFile, nil); err == nil {
		t.Error("a certificate as its own key was accepted")
	}
	if _, err := New("/nonexistent/cert.pem", "/nonexistent/key.pem", nil); err == nil {
		t.Error("missing files were accepted")
	}
}
