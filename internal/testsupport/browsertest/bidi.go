package browsertest

// A small WebDriver BiDi client (W3C WebDriver BiDi, §5 "Transport"): JSON
// commands with ids over one WebSocket, answered by "success" or "error"
// messages with the same id, plus "event" messages. It is all Firefox needs
// here: Firefox serves BiDi itself with --remote-debugging-port, so no
// geckodriver (which is not packaged for Debian) is involved.
//
// Libraries checked before writing this (2026-12): the Go module proxy has
// no Go WebDriver BiDi client; github.com/go-rod/rod and chromedp speak only
// the Chrome DevTools Protocol (Firefox dropped CDP), tebeka/selenium needs
// geckodriver, and playwright-go downloads its own driver and browsers at
// run time. So this is about 150 lines over gorilla/websocket, already a
// dependency of the server.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gorilla/websocket"
)

// ErrBiDiClosed is returned for commands on a connection that has ended.
var ErrBiDiClosed = errors.New("browsertest: BiDi connection closed")

// bidiEvent is one event message: its method (e.g. "log.entryAdded") and params.
type bidiEvent struct {
	Method string
	Params json.RawMessage
}

// bidiReply is what a command's caller waits for.
type bidiReply struct {
	result json.RawMessage
	err    error
}

// bidiConn is one BiDi session's WebSocket. Commands may be sent from any
// goroutine; events go to onEvent, called from the reader goroutine (it must
// not block on a command).
type bidiConn struct {
	ws      *websocket.Conn
	onEvent func(bidiEvent)

	writeMu sync.Mutex // serializes writes to ws (gorilla allows one writer)

	mu      sync.Mutex // guards the fields below
	nextID  int64
	pending map[int64]chan bidiReply
	err     error // why the reader stopped; set once

	done chan struct{} // closed when the reader stops
}

// dialBiDi connects to a BiDi WebSocket URL (ws://127.0.0.1:PORT/session).
func dialBiDi(ctx context.Context, url string, onEvent func(bidiEvent)) (*bidiConn, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("browsertest: dial BiDi %s: %w", url, err)
	}
	// Screenshots and large results exceed gorilla's default read limit (none
	// by default, but say so: results come from our own browser).
	ws.SetReadLimit(64 << 20)
	c := &bidiConn{ws: ws, onEvent: onEvent, pending: map[int64]chan bidiReply{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

// bidiMessage is any message from the browser (§6 "Protocol Definition").
type bidiMessage struct {
	Type    string          `json:"type"` // "success" | "error" | "event"
	ID      *int64          `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

func (c *bidiConn) read() {
	var stop error
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			stop = fmt.Errorf("%w: %v", ErrBiDiClosed, err)
			break
		}
		var m bidiMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue // not ours to judge; a command waiting for it times out
		}
		switch m.Type {
		case "event":
			if c.onEvent != nil {
				c.onEvent(bidiEvent{Method: m.Method, Params: m.Params})
			}
		case "success", "error":
			if m.ID == nil {
				continue
			}
			r := bidiReply{result: m.Result}
			if m.Type == "error" {
				r.err = fmt.Errorf("browsertest: BiDi %s: %s", m.Error, m.Message)
			}
			c.mu.Lock()
			ch := c.pending[*m.ID]
			delete(c.pending, *m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
	}
	c.mu.Lock()
	c.err = stop
	for id, ch := range c.pending {
		ch <- bidiReply{err: stop}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

// call sends one command and waits for its result (or ctx's end).
func (c *bidiConn) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ch := make(chan bidiReply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	if params == nil {
		params = struct{}{}
	}
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		c.forget(id)
		return nil, fmt.Errorf("browsertest: BiDi %s: encode: %w", method, err)
	}
	c.writeMu.Lock()
	err = c.ws.WriteMessage(websocket.TextMessage, msg)
	c.writeMu.Unlock()
	if err != nil {
		c.forget(id)
		return nil, fmt.Errorf("browsertest: BiDi %s: send: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", method, r.err)
		}
		return r.result, nil
	case <-ctx.Done():
		c.forget(id)
		return nil, fmt.Errorf("browsertest: BiDi %s: %w", method, ctx.Err())
	}
}

func (c *bidiConn) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// close ends the connection and waits for the reader to stop.
func (c *bidiConn) close() {
	_ = c.ws.Close()
	<-c.done
}
