package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

const (
	// udpSocketBuffer is the receive and send buffer asked for on each
	// listening UDP socket: a relay carries bursts of video packets, and
	// Linux's default (~208 KiB) drops them under load. The kernel caps it
	// at net.core.rmem_max/wmem_max; raise those for busy servers.
	udpSocketBuffer = 4 << 20

	// listenAttempts is how many times Start tries to get the same port for
	// UDP and TCP when the listen port is 0 (tests): the UDP port the
	// kernel picks may already be taken for TCP.
	listenAttempts = 16

	// tcpFirstByteTimeout closes TCP/TLS connections that send nothing:
	// a client connects to talk TURN, at once.
	tcpFirstByteTimeout = 10 * time.Second

	// tcpIdleTimeout closes TCP/TLS connections silent for longer than the
	// default allocation lifetime (10 min, RFC 8656 §7.2) plus a minute: a
	// live client refreshes within the lifetime, so only dead ones are cut.
	tcpIdleTimeout = 11 * time.Minute

	// deadlineRefresh bounds how often an active connection's read deadline
	// is pushed forward: once a second is plenty against an 11-minute
	// timeout and keeps the per-read cost to a clock read.
	deadlineRefresh = time.Second

	// acceptBackoffMax caps the pause after a failing Accept (out of file
	// descriptors): pion/turn stops serving a listener for good when Accept
	// returns an error, so transient errors are retried here instead.
	acceptBackoffMax = time.Second
)

// listenUDPGroup opens n UDP sockets sharing addr's port with SO_REUSEPORT.
// If addr's port is 0 the first socket picks it and the others join it.
func listenUDPGroup(ctx context.Context, addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = reusePort
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("turn: listen %s: %w", addr, err)
	}
	if n > 1 {
		if err := probeFree(ctx, addr); err != nil {
			return nil, err
		}
	}
	conns := make([]*net.UDPConn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	for i := range n {
		a := addr
		if i > 0 {
			a = net.JoinHostPort(host, strconv.Itoa(conns[0].LocalAddr().(*net.UDPAddr).Port))
		}
		pc, err := lc.ListenPacket(ctx, "udp", a)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("turn: listen udp %s: %w", a, err)
		}
		conn, ok := pc.(*net.UDPConn)
		if !ok {
			_ = pc.Close()
			closeAll()
			return nil, fmt.Errorf("turn: listen udp %s: unexpected %T", a, pc)
		}
		// Best effort: the kernel silently caps these.
		_ = conn.SetReadBuffer(udpSocketBuffer)
		_ = conn.SetWriteBuffer(udpSocketBuffer)
		conns = append(conns, conn)
	}
	return conns, nil
}

// probeFree binds addr once without SO_REUSEPORT and lets it go. With
// SO_REUSEPORT alone, a port some other process (a second Parley, a coturn)
// already holds with SO_REUSEPORT would be joined silently and the two
// would split each other's traffic; a plain bind fails instead, so the start
// fails with a clear error.
func probeFree(ctx context.Context, addr string) error {
	if _, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
		return nil // the kernel picks a free port
	}
	pc, err := (&net.ListenConfig{}).ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("turn: listen udp %s (is another TURN server running?): %w", addr, err)
	}
	return pc.Close()
}

// listenUDPAndTCP opens the UDP socket group and a TCP listener on the same
// port, as turn:host:port?transport=udp|tcp URLs promise.
func listenUDPAndTCP(ctx context.Context, addr string, n int) ([]*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("turn: listen %s: %w", addr, err)
	}
	attempts := 1
	if port == "0" {
		attempts = listenAttempts
	}
	var lastErr error
	for range attempts {
		udp, err := listenUDPGroup(ctx, addr, n)
		if err != nil {
			return nil, nil, err
		}
		tcpAddr := net.JoinHostPort(host, strconv.Itoa(udp[0].LocalAddr().(*net.UDPAddr).Port))
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", tcpAddr)
		if err == nil {
			return udp, ln, nil
		}
		for _, c := range udp {
			_ = c.Close()
		}
		lastErr = fmt.Errorf("turn: listen tcp %s: %w", tcpAddr, err)
	}
	return nil, nil, lastErr
}

// guardedListener wraps a TCP (or TLS) listener for pion/turn. pion runs a
// goroutine per accepted connection with no limit and no timeout, never
// closes accepted connections when the server closes, leaves a connection
// open when its TLS handshake fails, and gives up on the listener at the
// first Accept error. guardedListener accepts on its own goroutine, caps the
// number of connections, completes TLS handshakes itself (closing the
// failures), closes silent connections, retries transient Accept errors,
// and closes every connection it handed out when it is closed.
type guardedListener struct {
	inner     net.Listener
	tlsConfig *tls.Config // non-nil: connections are TLS
	limit     int
	log       *slog.Logger
	ready     chan net.Conn // connections ready for pion
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup

	mu     sync.Mutex // guards the fields below
	conns  map[*guardedConn]struct{}
	closed bool
}

// newGuardedListener starts accepting on ln.
func newGuardedListener(ln net.Listener, tlsConfig *tls.Config, limit int, log *slog.Logger) *guardedListener {
	l := &guardedListener{
		inner:     ln,
		tlsConfig: tlsConfig,
		limit:     limit,
		log:       log,
		ready:     make(chan net.Conn),
		done:      make(chan struct{}),
		conns:     make(map[*guardedConn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection, already past its TLS handshake.
func (l *guardedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Addr is the listening address.
func (l *guardedListener) Addr() net.Addr { return l.inner.Addr() }

func (l *guardedListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			l.log.Warn("turn: accept failed; retrying", "addr", l.Addr().String(), "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		gc := &guardedConn{Conn: c, l: l}
		if !l.track(gc) {
			_ = c.Close()
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(tcpFirstByteTimeout))
		if l.tlsConfig == nil {
			l.deliver(gc)
			continue
		}
		l.wg.Add(1)
		go l.handshake(gc)
	}
}

// handshake completes TLS (pion then finds it done) or closes the
// connection.
func (l *guardedListener) handshake(gc *guardedConn) {
	defer l.wg.Done()
	tc := tls.Server(gc, l.tlsConfig)
	ctx, cancel := context.WithTimeout(context.Background(), tcpFirstByteTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		l.log.Debug("turn: TLS handshake failed", "client", gc.RemoteAddr().String(), "err", err)
		_ = tc.Close()
		return
	}
	l.deliver(tc)
}

// deliver hands c to pion's Accept, or closes it if the listener closes
// first.
func (l *guardedListener) deliver(c net.Conn) {
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *guardedListener) track(c *guardedConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if len(l.conns) >= l.limit {
		l.log.Debug("turn: TCP connection limit reached; connection closed", "client", c.RemoteAddr().String(), "limit", l.limit)
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *guardedListener) untrack(c *guardedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// Close stops accepting, closes every connection handed out, and waits for
// its own goroutines.
func (l *guardedListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	conns := make([]*guardedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.inner.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	l.wg.Wait()
	if err != nil {
		return fmt.Errorf("turn: close listener: %w", err)
	}
	return nil
}

// guardedConn pushes its read deadline forward while data flows, and leaves
// its listener's table when closed.
type guardedConn struct {
	net.Conn
	l *guardedListener

	lastExtend time.Time // only Read touches it; pion reads from one goroutine
	closeOnce  sync.Once
}

// Read reads and, at most once per deadlineRefresh, moves the idle deadline.
func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if now := time.Now(); now.Sub(c.lastExtend) >= deadlineRefresh {
			c.lastExtend = now
			_ = c.Conn.SetReadDeadline(now.Add(tcpIdleTimeout))
		}
	}
	return n, err
}

// Close closes the connection once.
func (c *guardedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.l.untrack(c)
	})
	return err
}
