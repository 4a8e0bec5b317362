// Package sigtest is a minimal in-process stand-in for Parley's signaling
// server, so that sigclient and the pion participant can be tested (and
// leak-checked) without the real server and its goroutines. It implements
// the happy path of docs/protocol.md — join/welcome, peer-joined/left,
// signal and key relay, leave, pings — plus not-joined, unknown-peer and
// room-full refusals. It is not a reference implementation: the e2e tests
// run against the real server.
package sigtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Server is a fake signaling server on 127.0.0.1.
type Server struct {
	// WSURL is the WebSocket endpoint, ws://127.0.0.1:PORT/ws.
	WSURL string

	http *httptest.Server
	max  int           // participants per room; 0 means unlimited
	ping time.Duration // 0 disables pings

	mu     sync.Mutex // guards the fields below
	nextID int
	rooms  map[string][]*conn // in joining order
	conns  map[*conn]struct{}
	pongs  int
}

type conn struct {
	ws    *websocket.Conn
	wmu   sync.Mutex // one writer at a time
	id    string
	name  string
	room  string
	close chan struct{}
}

// Option configures a Server.
type Option func(*Server)

// WithRoomMax refuses joins past n participants with room-full.
func WithRoomMax(n int) Option { return func(s *Server) { s.max = n } }

// WithPing makes the server ping every connection at interval d.
func WithPing(d time.Duration) Option { return func(s *Server) { s.ping = d } }

// New starts a Server and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{rooms: map[string][]*conn{}, conns: map[*conn]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serveWS))
	s.WSURL = "ws" + strings.TrimPrefix(s.http.URL, "http") + "/ws"
	tb.Cleanup(s.Close)
	return s
}

// Close disconnects everyone and stops the listener.
func (s *Server) Close() {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.ws.Close()
	}
	s.mu.Unlock()
	s.http.Close()
}

// Pongs is how many pongs the server has received.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

// Broadcast sends v to every connection, joined or not (to test events
// such as server-shutdown or mode).
func (s *Server) Broadcast(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.send(v)
	}
}

func (c *conn) send(v any) {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *conn) refuse(code, ref, format string, args ...any) {
	c.send(map[string]string{"type": "error", "code": code, "message": fmt.Sprintf(format, args...), "ref": ref})
}

type peer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, close: make(chan struct{})}
	ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs++
		s.mu.Unlock()
		return nil
	})
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.ping > 0 {
		go s.pinger(c)
	}
	defer func() {
		close(c.close)
		s.leave(c, "closed")
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = ws.Close()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type string          `json:"type"`
			V    int             `json:"v"`
			Room string          `json:"room"`
			Name string          `json:"name"`
			To   *string         `json:"to"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			c.refuse("bad-json", "", "invalid JSON: %v", err)
			continue
		}
		switch m.Type {
		case "join":
			s.join(c, m.Room, m.Name)
		case "signal", "key":
			s.relay(c, m.Type, m.To, m.Data)
		case "leave":
			if c.id == "" {
				c.refuse("not-joined", m.Type, "join first")
				continue
			}
			s.leave(c, "left")
			c.wmu.Lock()
			_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			c.wmu.Unlock()
			return
		default:
			c.refuse("unknown-type", m.Type, "unknown message type %q", m.Type)
		}
	}
}

func (s *Server) pinger(c *conn) {
	t := time.NewTicker(s.ping)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.wmu.Lock()
			_ = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
			c.wmu.Unlock()
		case <-c.close:
			return
		}
	}
}

func (s *Server) join(c *conn, room, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.id != "" {
		c.refuse("already-joined", "join", "already in room %q", c.room)
		return
	}
	members := s.rooms[room]
	if s.max > 0 && len(members) >= s.max {
		c.refuse("room-full", "join", "this room is limited to %d participants", s.max)
		return
	}
	s.nextID++
	c.id, c.name, c.room = fmt.Sprintf("p%04d", s.nextID), name, room
	peers := make([]peer, 0, len(members))
	for _, m := range members {
		peers = append(peers, peer{m.id, m.name})
		m.send(map[string]any{"type": "peer-joined", "peer": peer{c.id, c.name}})
	}
	s.rooms[room] = append(members, c)
	c.send(map[string]any{
		"type": "welcome", "v": 1, "id": c.id, "room": room, "name": name,
		"peers": peers, "mode": "mesh", "policy": "auto", "iceServers": []any{},
		"limits": map[string]int{"meshMax": 6, "maxMessageBytes": 65536, "maxNameLength": 64},
	})
}

func (s *Server) relay(c *conn, typ string, to *string, data json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.id == "" {
		c.refuse("not-joined", typ, "join first")
		return
	}
	found := false
	for _, m := range s.rooms[c.room] {
		if m == c || (to != nil && m.id != *to) {
			continue
		}
		found = true
		m.send(map[string]any{"type": typ, "from": c.id, "data": data})
	}
	if !found && to != nil {
		c.refuse("unknown-peer", typ, "no participant %q in your room", *to)
	}
}

func (s *Server) leave(c *conn, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.id == "" {
		return
	}
	members := s.rooms[c.room]
	kept := members[:0]
	for _, m := range members {
		if m != c {
			kept = append(kept, m)
			m.send(map[string]any{"type": "peer-left", "peer": peer{c.id, c.name}, "reason": reason})
		}
	}
	if len(kept) == 0 {
		delete(s.rooms, c.room)
	} else {
		s.rooms[c.room] = kept
	}
	c.id = ""
}
