// Package hostile is a misbehaving server for tests
// (docs/e2ee.md "Threat model"): a proxy on 127.0.0.1 in front of a real
// Parley server that forwards HTTP as it is and relays each /ws connection
// through a script the test writes. The script sees every message in both
// directions and may pass, drop, rewrite, hold back, reorder or add
// messages, and send recorded ones again; the proxy records everything,
// so a test can check what a participant sent and to whom.
//
// It is only imported by tests: the parley binary never links it.
package hostile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Script decides what becomes of one message: the messages it returns are
// delivered in order in the same direction (none: dropped; m itself:
// passed). It runs on the connection's relay goroutine for that
// direction, so it may block to hold a message back, and may send on any
// connection (Conn.ToClient, Conn.ToServer) to inject.
type Script func(c *Conn, m Message) []Message

// Pass is the script of an honest relay.
func Pass(_ *Conn, m Message) []Message { return []Message{m} }

// writeWait bounds one write to either side; a stuck browser must not hang
// the test's cleanup.
const writeWait = 10 * time.Second

// Proxy is the hostile server. Set its scripts before pages connect, or at
// any time: each message uses the scripts of the moment.
type Proxy struct {
	// URL is http://127.0.0.1:PORT: point pages at it instead of the
	// real server.
	URL string

	target   *url.URL // the real server
	origin   string   // the real server's origin, for its Origin check
	ln       net.Listener
	srv      *http.Server
	upgrader websocket.Upgrader
	t        testing.TB

	mu       sync.Mutex // guards the fields below
	toClient Script
	toServer Script
	conns    []*Conn
	records  []Record
	closed   bool
}

// Start runs a proxy in front of the server at target (its
// http://127.0.0.1:PORT URL) until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		t.Fatalf("hostile: target %q is not a URL: %v", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: listen: %v", err)
	}
	p := &Proxy{
		URL:      "http://" + ln.Addr().String(),
		target:   u,
		origin:   u.Scheme + "://" + u.Host,
		ln:       ln,
		t:        t,
		toClient: Pass,
		toServer: Pass,
		// The browser's Origin is the proxy's; the real server's own
		// check sees the origin the proxy sends.
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: &http.Transport{Proxy: nil}, // never an environment proxy: loopback only
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", p.relay)
	mux.Handle("/", rp)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(p.Close)
	return p
}

// WSURL is the proxy's ws://127.0.0.1:PORT/ws, for pion participants.
func (p *Proxy) WSURL() string { return "ws" + strings.TrimPrefix(p.URL, "http") + "/ws" }

// Close stops the proxy and every relayed connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	conns := slices.Clone(p.conns)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	for _, c := range conns {
		c.close()
	}
}

// ToClient sets the script for messages from the server to browsers
// (nil: pass).
func (p *Proxy) ToClient(s Script) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.toClient = orPass(s)
}

// ToServer sets the script for messages from browsers to the server
// (nil: pass).
func (p *Proxy) ToServer(s Script) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.toServer = orPass(s)
}

func orPass(s Script) Script {
	if s == nil {
		return Pass
	}
	return s
}

// Conns returns the relayed connections so far, in the order they came.
func (p *Proxy) Conns() []*Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.conns)
}

// ConnOf returns the live connection of participant id, or nil.
func (p *Proxy) ConnOf(id string) *Conn {
	for _, c := range slices.Backward(p.Conns()) {
		if c.ID() == id && !c.isDone() {
			return c
		}
	}
	return nil
}

// Records returns what the proxy saw, in order, that keep accepts (nil:
// everything).
func (p *Proxy) Records(keep func(Record) bool) []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Record
	for _, r := range p.records {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// record keeps r and returns its index.
func (p *Proxy) record(r Record) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, r)
	return len(p.records) - 1
}

// passed marks record i as delivered unchanged.
func (p *Proxy) passed(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records[i].Passed = true
}

func (p *Proxy) scripts() (toClient, toServer Script) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.toClient, p.toServer
}

// relay upgrades a browser's /ws, dials the real server's, and pumps both
// ways through the scripts.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request) {
	up := *p.target
	up.Scheme = strings.Replace(up.Scheme, "http", "ws", 1)
	up.Path = "/ws"
	up.RawQuery = r.URL.RawQuery
	dialer := websocket.Dialer{Proxy: nil, HandshakeTimeout: 10 * time.Second}
	server, resp, err := dialer.DialContext(r.Context(), up.String(), http.Header{"Origin": {p.origin}})
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, fmt.Sprintf("hostile: dial %s: %v", up.String(), err), status)
		return
	}
	client, err := p.upgrader.Upgrade(w, r, nil)
	if err != nil {
		server.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	c := &Conn{N: len(p.conns), p: p, client: client, server: server, done: make(chan struct{})}
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	go c.pump(ToServer)
	c.pump(ToClient)
}

// Conn is one relayed WebSocket: a browser on one side, the real server on
// the other.
type Conn struct {
	N int // the connection's number, in the order they came

	p      *Proxy
	client *websocket.Conn
	server *websocket.Conn
	cmu    sync.Mutex // serialises writes to client
	smu    sync.Mutex // serialises writes to server
	once   sync.Once
	done   chan struct{}

	mu   sync.Mutex // guards id and name
	id   string
	name string
}

// ID is the participant id the server gave this connection in its
// welcome (the real one, before any script rewrote it), or "".
func (c *Conn) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Name is the participant's name from its welcome, or "".
func (c *Conn) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// ToClient sends m to the browser as if the server had sent it.
func (c *Conn) ToClient(m Message) error { return c.write(ToClient, m.Bytes()) }

// ToServer sends m to the server as if the browser had sent it.
func (c *Conn) ToServer(m Message) error { return c.write(ToServer, m.Bytes()) }

// Replay sends a recorded message again, byte for byte, in its direction.
func (c *Conn) Replay(r Record) error { return c.write(r.Dir, r.Raw) }

// Cut closes both sides at once, as a network failure would (no close
// frame: the browser sees an abnormal close and reconnects).
func (c *Conn) Cut() { c.close() }

func (c *Conn) write(d Dir, b []byte) error {
	ws, mu := c.client, &c.cmu
	if d == ToServer {
		ws, mu = c.server, &c.smu
	}
	mu.Lock()
	defer mu.Unlock()
	_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("hostile: conn %d %s: %w", c.N, d, err)
	}
	return nil
}

func (c *Conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.server.Close()
	})
}

// pump relays one direction until either side closes; a close frame is
// passed on with its code (4000 keeps a participant resumable).
func (c *Conn) pump(d Dir) {
	from, to := c.server, c.client
	if d == ToServer {
		from, to = c.client, c.server
	}
	defer c.close()
	for {
		kind, b, err := from.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				mu := &c.cmu
				if d == ToServer {
					mu = &c.smu
				}
				mu.Lock()
				_ = to.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ce.Text), time.Now().Add(time.Second))
				mu.Unlock()
			}
			return
		}
		if kind != websocket.TextMessage {
			if c.writeKind(d, kind, b) != nil {
				return
			}
			continue
		}
		if c.handle(d, b) != nil {
			return
		}
	}
}

func (c *Conn) writeKind(d Dir, kind int, b []byte) error {
	ws, mu := c.client, &c.cmu
	if d == ToServer {
		ws, mu = c.server, &c.smu
	}
	mu.Lock()
	defer mu.Unlock()
	_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
	return ws.WriteMessage(kind, b)
}

// handle records one text frame, runs the script and delivers its result.
func (c *Conn) handle(d Dir, b []byte) error {
	m, err := ParseMessage(b)
	if err != nil {
		c.p.passed(c.p.record(Record{Conn: c.N, Peer: c.ID(), Dir: d, At: time.Now(), Raw: b}))
		return c.write(d, b)
	}
	if d == ToClient && m.Type() == "welcome" {
		var id, name string
		m.Get("id", &id)
		m.Get("name", &name)
		c.mu.Lock()
		c.id, c.name = id, name
		c.mu.Unlock()
	}
	// Recorded before the script runs: a script that holds a message
	// back does not hide it from the record.
	i := c.p.record(Record{Conn: c.N, Peer: c.ID(), Dir: d, At: time.Now(), Type: m.Type(), Raw: b})
	toClient, toServer := c.p.scripts()
	script := toClient
	if d == ToServer {
		script = toServer
	}
	out := script(c, m.Clone())
	if len(out) == 1 && string(out[0].Bytes()) == string(m.Bytes()) {
		c.p.passed(i)
		return c.write(d, b) // untouched, byte for byte
	}
	for _, o := range out {
		if err := c.write(d, o.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
