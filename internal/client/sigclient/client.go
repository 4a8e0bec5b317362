// Package sigclient is a Go client for Parley's signaling protocol
// (docs/protocol.md): it joins a room over a WebSocket, relays signal and key
// messages, and delivers the server's events on a channel.
//
// It is what pion-based participants (internal/client/pionpeer), protocol tests and
// the load tool use to speak to a Parley server, so it is written as an
// independent implementation of the document rather than sharing code with
// the server: a disagreement between the two is a finding, not a tautology.
//
// A Client runs three goroutines: a reader (which also answers pings), a
// single writer (gorilla/websocket allows one concurrent writer), and a pump
// that hands events to the caller through an unbounded queue so that a slow
// consumer never stops the reader, and therefore never stops pongs.
package sigclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Client is one signaling connection. Its methods are safe for concurrent
// use. Call Close when done with it, whatever happened to the connection.
type Client struct {
	conn   *websocket.Conn
	opts   options
	ctx    context.Context // ends the client; Close cancels it with ErrClosed
	cancel context.CancelCauseFunc

	out    chan frame // to the writer goroutine
	events chan Event // to the caller; closed when the pump ends

	dead       chan struct{} // closed by shutdown: the socket is closed
	writerDone chan struct{} // closed when the writer goroutine returns
	connDone   chan struct{} // closed when reader and writer have returned
	pumpDone   chan struct{} // closed when the pump goroutine returns
	notify     chan struct{} // wakes the pump; capacity 1
	shutOnce   sync.Once
	cause      error // why the connection ended; written before dead is closed

	mu        sync.Mutex // guards the fields below
	queue     []Event    // events read but not yet handed to the caller
	readEnded bool       // the reader has queued its last event
	joinReply chan Event // set while Join waits for welcome or error
	welcome   Welcome
}

type frame struct {
	typ  int // websocket.TextMessage or websocket.BinaryMessage
	data []byte
}

// Dial connects to a Parley server's WebSocket endpoint (for example
// ws://127.0.0.1:8080/ws), joins room as name and waits for `welcome`.
// A refused join is returned as a *ProtocolError and the connection is
// closed.
//
// ctx bounds the client's whole lifetime, not only the dial: cancelling it
// closes the connection. The handshake (upgrade plus join) is additionally
// bounded by WithHandshakeTimeout.
func Dial(ctx context.Context, wsURL, room, name string, opts ...Option) (*Client, error) {
	c, err := Connect(ctx, wsURL, opts...)
	if err != nil {
		return nil, err
	}
	joinCtx, cancel := withOptionalTimeout(ctx, c.opts.handshakeTimeout)
	defer cancel()
	if _, err := c.Join(joinCtx, room, name, c.opts.join...); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Connect opens the WebSocket without joining: the raw mode for protocol
// tests, which then send whatever they like with Send, SendText or
// SendBinary, or join with Join. ctx bounds the client's lifetime.
func Connect(ctx context.Context, wsURL string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	dialCtx, cancel := withOptionalTimeout(ctx, o.handshakeTimeout)
	defer cancel()

	// A zero Dialer uses no proxy (traffic goes only to wsURL) and does
	// not offer compression, which the server has off on purpose.
	var dialer websocket.Dialer
	conn, resp, err := dialer.DialContext(dialCtx, wsURL, o.header)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return nil, &HandshakeError{StatusCode: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("sigclient: dial %s: %w", wsURL, err)
	}
	return newClient(ctx, conn, o), nil
}

func withOptionalTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func newClient(ctx context.Context, conn *websocket.Conn, o options) *Client {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &Client{
		conn:       conn,
		opts:       o,
		ctx:        ctx,
		cancel:     cancel,
		out:        make(chan frame, sendQueueLen),
		events:     make(chan Event, 16),
		dead:       make(chan struct{}),
		writerDone: make(chan struct{}),
		connDone:   make(chan struct{}),
		pumpDone:   make(chan struct{}),
		notify:     make(chan struct{}, 1),
	}
	conn.SetReadLimit(maxFrameBytes)
	conn.SetPingHandler(c.onPing)
	c.extendReadDeadline()
	go c.readLoop()
	go c.writeLoop()
	go c.pump()
	return c
}

// Join sends `join`, with the optional fields opts set, and waits for the
// server's answer: the Welcome, or the refusal as a *ProtocolError. The
// connection stays open after a refusal, as the protocol says, so a
// raw-mode caller may try again.
func (c *Client) Join(ctx context.Context, room, name string, opts ...JoinOption) (Welcome, error) {
	reply := make(chan Event, 1)
	c.mu.Lock()
	if c.joinReply != nil {
		c.mu.Unlock()
		return Welcome{}, fmt.Errorf("sigclient: join %q: another join is waiting for its answer", room)
	}
	c.joinReply = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.joinReply == reply {
			c.joinReply = nil
		}
		c.mu.Unlock()
	}()

	msg := joinMsg{Type: TypeJoin, V: ProtocolVersion, Room: room, Name: name}
	for _, opt := range opts {
		opt(&msg)
	}
	if err := c.Send(msg); err != nil {
		return Welcome{}, fmt.Errorf("sigclient: join %q: %w", room, err)
	}
	select {
	case ev := <-reply:
		if ev.Type == TypeError {
			return Welcome{}, ev.ProtocolError()
		}
		var w Welcome
		if err := json.Unmarshal(ev.Raw, &w); err != nil {
			return Welcome{}, fmt.Errorf("sigclient: join %q: decode welcome: %w", room, err)
		}
		if w.ID == "" {
			return Welcome{}, fmt.Errorf("sigclient: join %q: %w: welcome without id", room, ErrUnexpectedReply)
		}
		c.mu.Lock()
		c.welcome = w
		c.mu.Unlock()
		return w, nil
	case <-ctx.Done():
		return Welcome{}, fmt.Errorf("sigclient: join %q: no answer: %w", room, context.Cause(ctx))
	case <-c.dead:
		return Welcome{}, fmt.Errorf("sigclient: join %q: %w", room, c.cause)
	}
}

// Welcome returns the server's welcome, or the zero Welcome before a
// successful Join.
func (c *Client) Welcome() Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// ID is this participant's server-assigned id, empty before Join.
func (c *Client) ID() string { return c.Welcome().ID }

// Events delivers every server message except the answer to Join, in the
// order received. The queue behind it is unbounded so that a consumer that
// falls behind never stops the reader from answering pings; a consumer that
// stops reading for good should Close the client. The channel is closed
// after the connection ended and every queued event was delivered, or at
// once on Close.
func (c *Client) Events() <-chan Event { return c.events }

// Signal relays data (any JSON-encodable value, or a json.RawMessage) to
// participant to. It returns once the message is queued for writing.
func (c *Client) Signal(to string, data any) error {
	return c.Send(signalMsg{Type: TypeSignal, To: to, Data: data})
}

// Key relays end-to-end-encryption key material to participant to, or to
// everyone else in the room when to is empty.
func (c *Client) Key(to string, data any) error {
	return c.Send(keyMsg{Type: TypeKey, To: to, Data: data})
}

// Send encodes v as JSON and sends it as one text frame. It is the raw mode:
// v need not be a valid protocol message.
func (c *Client) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sigclient: encode message: %w", err)
	}
	return c.enqueue(frame{typ: websocket.TextMessage, data: b})
}

// SendText sends b unchanged as one text frame (raw mode: b may be invalid
// JSON or exceed the server's limits).
func (c *Client) SendText(b []byte) error {
	return c.enqueue(frame{typ: websocket.TextMessage, data: b})
}

// SendBinary sends b as one binary frame, which the protocol refuses; for
// tests of that refusal.
func (c *Client) SendBinary(b []byte) error {
	return c.enqueue(frame{typ: websocket.BinaryMessage, data: b})
}

func (c *Client) enqueue(f frame) error {
	// Check first so that a send on a dead client fails even when the
	// queue has room.
	select {
	case <-c.dead:
		return fmt.Errorf("sigclient: send: %w", c.cause)
	default:
	}
	select {
	case c.out <- f:
		return nil
	case <-c.dead:
		return fmt.Errorf("sigclient: send: %w", c.cause)
	}
}

// Leave sends `leave` and waits until the server closes the connection,
// which it does with code 1000 once the others were told; then it closes the
// client. It returns nil when the server closed normally.
func (c *Client) Leave(ctx context.Context) error {
	defer c.Close()
	if err := c.Send(leaveMsg{Type: TypeLeave}); err != nil {
		return fmt.Errorf("sigclient: leave: %w", err)
	}
	select {
	case <-c.connDone:
	case <-ctx.Done():
		return fmt.Errorf("sigclient: leave: server did not close the connection: %w", context.Cause(ctx))
	}
	if c.CloseCode() == websocket.CloseNormalClosure {
		return nil
	}
	return fmt.Errorf("sigclient: leave: %w", c.Err())
}

// Done is closed when the connection has ended and the client's reader and
// writer have returned. Events may still hold undelivered events.
func (c *Client) Done() <-chan struct{} { return c.connDone }

// Err says why the connection ended, or nil while it is up: ErrClosed after
// Close, a wrapped *websocket.CloseError when the server closed it (use
// websocket.IsCloseError or CloseCode), a wrapped ErrConnectionLost for a
// network failure, or the context's cause.
func (c *Client) Err() error {
	select {
	case <-c.dead:
		return c.cause
	default:
		return nil
	}
}

// CloseCode returns the WebSocket close code the server sent (1000 after
// leave, 1001 on shutdown, 1009 for a frame over 64 KiB, 1008 for flooding),
// or 0 if the connection is up or ended without a close frame.
func (c *Client) CloseCode() int {
	var ce *websocket.CloseError
	if err := c.Err(); err != nil && errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		return ce.Code
	}
	return 0
}

// Close ends the connection (sending a normal close frame if it is still
// up), waits for the client's goroutines to return and discards undelivered
// events. It is idempotent and always returns nil; Err tells what happened
// before.
func (c *Client) Close() error {
	c.cancel(ErrClosed)
	<-c.connDone
	<-c.pumpDone
	return nil
}

// Drop ends the connection abruptly, as a network failure would: the socket
// is closed without a close frame, so the server sees neither `leave` nor
// a goodbye and keeps the participant away for its resume grace
// (docs/protocol.md "Reconnecting"). Err then wraps ErrConnectionLost and
// ErrDropped. For tests of resuming; call Close afterwards as usual.
func (c *Client) Drop() {
	c.shutdown(fmt.Errorf("%w: %w", ErrConnectionLost, ErrDropped))
}

// shutdown closes the socket once, recording why.
func (c *Client) shutdown(cause error) {
	c.shutOnce.Do(func() {
		c.cause = cause
		close(c.dead)
		_ = c.conn.Close()
	})
}

func (c *Client) extendReadDeadline() {
	if c.opts.readTimeout > 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.opts.readTimeout))
	}
}

// onPing runs on the reader goroutine. It answers like gorilla's default
// handler (WriteControl may run concurrently with the writer), and also
// counts the ping as a sign of life.
func (c *Client) onPing(data string) error {
	c.extendReadDeadline()
	if c.opts.ignorePings {
		return nil
	}
	err := c.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
	var netErr net.Error
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &netErr) {
		// As gorilla's default: a failed pong is noticed by the reader.
		return nil
	}
	return fmt.Errorf("sigclient: answer ping: %w", err)
}

func (c *Client) readLoop() {
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			if c.ctx.Err() != nil {
				err = context.Cause(c.ctx) // we closed: the server's reply is no news
			} else {
				err = readCause(err)
			}
			c.shutdown(err)
			break
		}
		c.extendReadDeadline()
		ev := Event{}
		if typ != websocket.TextMessage || json.Unmarshal(data, &ev) != nil {
			ev = Event{} // not a protocol message: deliver it raw
		}
		ev.Raw = data
		c.route(ev)
	}
	c.mu.Lock()
	c.readEnded = true
	c.mu.Unlock()
	c.wake()
	<-c.writerDone
	close(c.connDone)
}

// readCause turns the reader's error into the client's Err.
func readCause(err error) error {
	var ce *websocket.CloseError
	// 1006 is never sent: gorilla reports a socket that ended without a
	// close frame with it (RFC 6455 §7.1.5), which is a lost connection.
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		return fmt.Errorf("sigclient: server closed the connection: %w", ce)
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// route hands the answer to a pending Join to it, and everything else to the
// event queue.
func (c *Client) route(ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	isJoinAnswer := ev.Type == TypeWelcome ||
		(ev.Type == TypeError && (ev.Ref == TypeJoin || ev.Ref == ""))
	if isJoinAnswer && c.joinReply != nil {
		c.joinReply <- ev // buffered, and only one answer is routed
		c.joinReply = nil
		return
	}
	c.queue = append(c.queue, ev)
	c.wakeLocked()
}

func (c *Client) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakeLocked()
}

func (c *Client) wakeLocked() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *Client) writeLoop() {
	defer close(c.writerDone)
	for {
		select {
		case f := <-c.out:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.conn.WriteMessage(f.typ, f.data); err != nil {
				c.shutdown(fmt.Errorf("%w: write: %w", ErrConnectionLost, err))
				return
			}
		case <-c.ctx.Done():
			// RFC 6455 §7.1.2: start the closing handshake; the
			// server then ends the participant as if it had left.
			_ = c.conn.SetWriteDeadline(time.Now().Add(closeTimeout))
			_ = c.conn.WriteMessage(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			// Wait for the server's close frame (§7.1.1: the server
			// closes TCP first). Closing at once can reset the
			// connection before the server read ours, and the server
			// would take a goodbye for a dropped connection and keep
			// the participant for its resume grace.
			select {
			case <-c.dead:
			case <-time.After(closeTimeout):
			}
			c.shutdown(context.Cause(c.ctx))
			return
		case <-c.dead:
			return
		}
	}
}

// pump moves events from the unbounded queue to the caller's channel.
func (c *Client) pump() {
	defer close(c.pumpDone)
	defer close(c.events)
	for {
		c.mu.Lock()
		batch, ended := c.queue, c.readEnded
		c.queue = nil
		c.mu.Unlock()
		for _, ev := range batch {
			select {
			case c.events <- ev:
			case <-c.ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		if ended {
			return
		}
		select {
		case <-c.notify:
		case <-c.ctx.Done():
			return
		}
	}
}
