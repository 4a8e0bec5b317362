//go:build !linux

package netns

import (
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"
)

// NS is a Linux network namespace; elsewhere New always fails.
type NS struct {
	Path           string
	HostIf, PeerIf string
	HostIP, PeerIP netip.Addr
}

// Available always fails off Linux.
func Available() error {
	return fmt.Errorf("%w: network namespaces need Linux, this is %s", ErrUnavailable, runtime.GOOS)
}

// Skip skips t, saying why.
func Skip(t testing.TB) {
	t.Helper()
	t.Skipf("skipped: %v", Available())
}

// New fails off Linux.
func New() (*NS, error) { return nil, Available() }

func (n *NS) Wrap(argv []string) []string                   { return argv }
func (n *NS) Command(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
func (n *NS) Shape(TBF) error                               { return Available() }
func (n *NS) Unshape() error                                { return Available() }
func (n *NS) QdiscStats() string                            { return "" }
func (n *NS) Close()                                        {}
