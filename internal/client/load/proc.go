package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times.
// It is 100 on every architecture Go supports on Linux.
const clockTicks = 100

// usage is a process's cumulative CPU time and current memory.
type usage struct {
	CPU time.Duration // user + system
	RSS uint64        // bytes; 0 when unknown
}

// usageSource reads a process's usage: the server's from /proc or its
// /metrics, or the load generator's own.
type usageSource interface {
	read(ctx context.Context) (usage, error)
	describe() string
}

// procSource reads /proc/PID on this machine.
type procSource struct{ pid int }

func (p procSource) describe() string { return fmt.Sprintf("/proc/%d", p.pid) }

func (p procSource) read(context.Context) (usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return usage{}, fmt.Errorf("read server stat: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after the last ')'. utime and stime are fields
	// 14 and 15, rss (pages) field 24 (proc(5)).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return usage{}, fmt.Errorf("read server stat: malformed %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return usage{}, fmt.Errorf("read server stat: %d fields", len(f))
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	pages, _ := strconv.ParseUint(f[21], 10, 64)
	return usage{
		CPU: time.Duration(ut+st) * time.Second / clockTicks,
		RSS: pages * uint64(os.Getpagesize()),
	}, nil
}

// selfSource is the load generator itself, from getrusage (finer than
// /proc's 10 ms ticks).
type selfSource struct{}

func (selfSource) describe() string { return "getrusage" }

func (selfSource) read(context.Context) (usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}, fmt.Errorf("getrusage: %w", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rss := uint64(0)
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			rss = pages * uint64(os.Getpagesize())
		}
	}
	return usage{CPU: cpu, RSS: rss}, nil
}

// metricsSource scrapes the Prometheus text format for the standard process
// collector's process_cpu_seconds_total and process_resident_memory_bytes.
type metricsSource struct {
	url    string
	client *http.Client
}

func (m metricsSource) describe() string { return m.url }

func (m metricsSource) read(ctx context.Context) (usage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return usage{}, fmt.Errorf("metrics: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return usage{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return usage{}, fmt.Errorf("metrics: %s", resp.Status)
	}
	var u usage
	found := false
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			u.CPU, found = time.Duration(v*float64(time.Second)), true
		case "process_resident_memory_bytes":
			u.RSS = uint64(v)
		}
	}
	if !found {
		return usage{}, fmt.Errorf("metrics: %s has no process_cpu_seconds_total", m.url)
	}
	return u, nil
}

// findServer picks how to read the server's usage: --server-pid, else the
// process listening on the URL's port on this machine, else --metrics-url
// or the URL's /metrics. It returns nil when none works, with the reason.
func findServer(ctx context.Context, o Options) (usageSource, string) {
	if o.ServerPID > 0 {
		return procSource{o.ServerPID}, ""
	}
	var why []string
	if pid, err := pidListening(firstURL(o.URL)); err == nil {
		return procSource{pid}, ""
	} else {
		why = append(why, err.Error())
	}
	urls := []string{o.MetricsURL}
	if o.MetricsURL == "" {
		urls = []string{httpBase(firstURL(o.URL)) + "/metrics"}
	}
	for _, u := range urls {
		m := metricsSource{url: u, client: &http.Client{Timeout: 2 * time.Second}}
		if _, err := m.read(ctx); err == nil {
			return m, ""
		} else {
			why = append(why, err.Error())
		}
	}
	return nil, strings.Join(why, "; ")
}

// pidListening finds the process that listens on the URL's TCP port on a
// loopback or local address: the socket's inode from /proc/net/tcp{,6},
// then the process holding it from /proc/*/fd (needs the same user or
// root).
func pidListening(raw string) (int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, fmt.Errorf("find server: %w", err)
	}
	host, portStr := u.Hostname(), u.Port()
	if portStr == "" {
		portStr = map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[u.Scheme]
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, fmt.Errorf("find server: port %q: %w", portStr, err)
	}
	if !isLocalHost(host) {
		return 0, fmt.Errorf("find server: %s is not this machine", host)
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			_, p, ok := strings.Cut(fs[1], ":")
			if pv, err := strconv.ParseUint(p, 16, 16); ok && err == nil && int(pv) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("find server: nothing listens on port %d here", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid, nil
		}
	}
	return 0, fmt.Errorf("find server: port %d's socket belongs to no process this user can see (try --server-pid)", port)
}

// isLocalHost says whether host names this machine.
func isLocalHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// machineBusy reads /proc/stat's aggregate CPU line: busy and total time
// over all cores, in ticks, to tell how loaded the whole machine was
// (other jobs included).
func machineBusy() (busy, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}
