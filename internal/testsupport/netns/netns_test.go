//go:build linux

package netns

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envHelper makes the test binary a TCP reader (helperMain) instead of a
// test run: how the test gets a process inside the namespace.
const envHelper = "NETNS_TEST_READ_FROM"

func TestMain(m *testing.M) {
	if addr := os.Getenv(envHelper); addr != "" {
		helperMain(addr)
		return
	}
	os.Exit(m.Run())
}

// helperMain connects to addr, reads for 2 s and prints the bytes read.
func helperMain(addr string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	fmt.Println(n)
}

// TestLinkAndShaping: a process inside the namespace reaches a listener on
// HostIP (and nothing on the test's loopback), and reads at about the tbf
// rate once the link is shaped.
func TestLinkAndShaping(t *testing.T) {
	Skip(t)
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.HostIP.Next() != n.PeerIP || !n.HostIP.IsPrivate() {
		t.Fatalf("addresses %v, %v", n.HostIP, n.PeerIP)
	}
	if err := n.Shape(TBF{Rate: 2_000_000, Burst: 16 * 1024, Latency: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", n.HostIP.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := bytes.Repeat([]byte("x"), 64*1024)
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	cmd := n.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+ln.Addr().String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reader in the namespace: %v: %s", err, out)
	}
	got, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("reader printed %q", out)
	}
	rate := float64(got) * 8 / 2
	t.Logf("read %d bytes in 2 s through a 2 Mbit/s tbf: %.2f Mbit/s\n%s", got, rate/1e6, n.QdiscStats())
	if rate < 1.4e6 || rate > 2.6e6 {
		t.Errorf("%.2f Mbit/s through a 2 Mbit/s link", rate/1e6)
	}

	// The namespace has its own loopback: the test's is not reachable.
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	cmd = n.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+lo.Addr().String())
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("a process in the namespace reached the test's loopback: %s", out)
	}
}

// TestCloseRemovesLink: after Close, neither veth end is left.
func TestCloseRemovesLink(t *testing.T) {
	Skip(t)
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if err := run("ip", "link", "show", n.HostIf); err == nil {
		t.Errorf("%s still exists after Close", n.HostIf)
	}
}
