package signaling

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// stallListener wraps every accepted connection in a stallConn, so a test
// can make one client's network stop draining without depending on how
// large the kernel lets socket buffers grow.
type stallListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*stallConn // in order of acceptance
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &stallConn{Conn: c, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, sc)
	l.mu.Unlock()
	return sc, nil
}

// conn returns the i-th accepted connection (0-based), or nil if fewer were
// accepted.
func (l *stallListener) conn(i int) *stallConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= len(l.conns) {
		return nil
	}
	return l.conns[i]
}

// stallConn passes writes through until stall is called; from then on a
// write blocks like one to a peer whose receive window stays shut: until
// the write deadline passes or the connection is closed.
type stallConn struct {
	net.Conn
	stalled   atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	deadline time.Time // the write deadline last set
}

func (c *stallConn) stall() { c.stalled.Store(true) }

func (c *stallConn) SetDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) setWriteDeadline(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

func (c *stallConn) Write(p []byte) (int, error) {
	if !c.stalled.Load() {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	var expired <-chan time.Time
	if !d.IsZero() {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *stallConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
