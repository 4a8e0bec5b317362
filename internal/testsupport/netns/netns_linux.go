//go:build linux

package netns

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// holdTimeout bounds the wait for the holder process to be in its new
// namespace.
const holdTimeout = 5 * time.Second

// tools are the commands New runs.
var tools = []string{"ip", "tc", "nsenter"}

// NS is one namespace and its link to the test's namespace.
type NS struct {
	// Path is the namespace's handle (/proc/PID/ns/net of its holder),
	// for nsenter --net.
	Path string
	// HostIf and PeerIf name the veth ends: in the test's namespace and
	// inside the new one.
	HostIf, PeerIf string
	// HostIP is the test's end of the link (where a server listens for
	// the namespace), PeerIP the namespace's; a /30 of 10.200.0.0/16.
	HostIP, PeerIP netip.Addr

	holder    *exec.Cmd
	closeOnce sync.Once
}

// Available says whether New can work here: nil, or an error wrapping
// ErrUnavailable that says what is missing.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (CAP_NET_ADMIN) to make namespaces and veth pairs; running as uid %d", ErrUnavailable, os.Geteuid())
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (install iproute2 and util-linux)", ErrUnavailable, tool)
		}
	}
	return nil
}

// Skip skips t, saying why, when namespaces are not available.
func Skip(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("skipped: %v", err)
	}
}

// New makes the namespace and the link, both ends up with their
// addresses, loopback up inside.
func New() (*NS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	tag := fmt.Sprintf("%06x", binary.BigEndian.Uint32(r[:])&0xffffff)
	// A /30 at a random place in 10.200.0.0/16: .1 here, .2 there.
	sub := binary.BigEndian.Uint16(r[2:]) &^ 3
	n := &NS{
		HostIf: "pvh" + tag,
		PeerIf: "pvn" + tag,
		HostIP: netip.AddrFrom4([4]byte{10, 200, byte(sub >> 8), byte(sub) + 1}),
		PeerIP: netip.AddrFrom4([4]byte{10, 200, byte(sub >> 8), byte(sub) + 2}),
	}
	if err := n.hold(); err != nil {
		return nil, err
	}
	pid := strconv.Itoa(n.holder.Process.Pid)
	steps := [][]string{
		{"ip", "link", "add", n.HostIf, "type", "veth", "peer", "name", n.PeerIf},
		{"ip", "link", "set", n.PeerIf, "netns", pid},
		{"ip", "addr", "add", n.HostIP.String() + "/30", "dev", n.HostIf},
		{"ip", "link", "set", n.HostIf, "up"},
	}
	inside := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", n.PeerIP.String() + "/30", "dev", n.PeerIf},
		{"ip", "link", "set", n.PeerIf, "up"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			n.Close()
			return nil, err
		}
	}
	for _, s := range inside {
		if err := run(n.Wrap(s)...); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// hold starts the process whose life is the namespace's: sleep, cloned
// into a new network namespace.
func (n *NS) hold() error {
	cmd := exec.Command("sleep", "infinity")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("netns: start the namespace's holder: %w", err)
	}
	n.holder = cmd
	n.Path = fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	// The clone made the namespace before exec; make sure it is
	// reachable (not the test's own) before using it.
	self, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(holdTimeout)
	for {
		if got, err := os.Readlink(n.Path); err == nil && got != self {
			return nil
		}
		if time.Now().After(deadline) {
			n.Close()
			return fmt.Errorf("netns: the holder's namespace did not appear within %v", holdTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Wrap returns argv run inside the namespace (nsenter --net).
func (n *NS) Wrap(argv []string) []string {
	return append([]string{"nsenter", "--net=" + n.Path, "--"}, argv...)
}

// Command is exec.Command of name and args inside the namespace.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	argv := n.Wrap(append([]string{name}, args...))
	return exec.Command(argv[0], argv[1:]...)
}

// Shape puts f on the test's end of the link, so it limits what flows into
// the namespace; Shape again replaces it.
func (n *NS) Shape(f TBF) error {
	if f.Rate <= 0 || f.Burst <= 0 || f.Latency <= 0 {
		return fmt.Errorf("netns: tbf %+v: rate, burst and latency must be positive", f)
	}
	return run("tc", "qdisc", "replace", "dev", n.HostIf, "root", "tbf",
		"rate", strconv.Itoa(f.Rate)+"bit", "burst", strconv.Itoa(f.Burst),
		"latency", strconv.FormatInt(f.Latency.Milliseconds(), 10)+"ms")
}

// Unshape removes the shaping.
func (n *NS) Unshape() error {
	return run("tc", "qdisc", "del", "dev", n.HostIf, "root")
}

// QdiscStats is what tc says about the link's qdisc (`tc -s qdisc show`),
// for a test's log: sent bytes, drops, overlimits.
func (n *NS) QdiscStats() string {
	out, err := exec.Command("tc", "-s", "qdisc", "show", "dev", n.HostIf).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("tc: %v: %s", err, bytes.TrimSpace(out))
	}
	return string(bytes.TrimSpace(out))
}

// Close destroys the namespace (killing its holder takes both veth ends
// with it) and removes the test's end in case it outlived it.
func (n *NS) Close() {
	n.closeOnce.Do(func() {
		if n.holder != nil && n.holder.Process != nil {
			_ = n.holder.Process.Kill()
			_ = n.holder.Wait()
		}
		_ = exec.Command("ip", "link", "del", n.HostIf).Run() // usually gone already
	})
}

// run runs a command and wraps its output into the error.
func run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: %v: %w: %s", argv, err, bytes.TrimSpace(out))
	}
	return nil
}
