package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testHub serves a Hub with opts on a loopback httptest server.
func testHub(t *testing.T, opts Options) (*Hub, string) {
	t.Helper()
	return testHubOn(t, opts, nil)
}

// testHubOn is testHub with the server's listener wrapped by wrap, if set.
func testHubOn(t *testing.T, opts Options, wrap func(net.Listener) net.Listener) (*Hub, string) {
	t.Helper()
	if opts.ResumeGrace == 0 {
		// A dropped socket leaves at once here; resume_test.go turns
		// resuming on.
		opts.ResumeGrace = -1
	}
	h := NewHub(opts)
	ts := httptest.NewUnstartedServer(h)
	if wrap != nil {
		ts.Listener = wrap(ts.Listener)
	}
	ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		ts.Close()
	})
	return h, "ws" + strings.TrimPrefix(ts.URL, "http")
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	return dialWith(t, url, websocket.DefaultDialer)
}

func dialWith(t *testing.T, url string, d *websocket.Dialer) *client {
	t.Helper()
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	c.sendRaw(string(b))
}

// msg is any server message, loosely decoded.
type msg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Room    string          `json:"room"`
	Name    string          `json:"name"`
	Peers   []Peer          `json:"peers"`
	Peer    Peer            `json:"peer"`
	By      Peer            `json:"by"`
	Reason  string          `json:"reason"`
	From    string          `json:"from"`
	Data    json.RawMessage `json:"data"`
	Mode    string          `json:"mode"`
	Policy  string          `json:"policy"`
	Code    Code            `json:"code"`
	Message string          `json:"message"`
	Ref     string          `json:"ref"`
	Limits  Limits          `json:"limits"`
	Resume  string          `json:"resume"`
	Resumed bool            `json:"resumed"`

	E2EE *bool `json:"e2ee"` // welcome, e2ee (e2ee.go)
}

func (c *client) read() msg {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func (c *client) expect(typ string) msg {
	c.t.Helper()
	m := c.read()
	if m.Type != typ {
		c.t.Fatalf("got %s (%s %s), want %s", m.Type, m.Code, m.Message, typ)
	}
	return m
}

func (c *client) expectError(code Code) msg {
	c.t.Helper()
	m := c.expect(TypeError)
	if m.Code != code {
		c.t.Fatalf("error code %q (%s), want %q", m.Code, m.Message, code)
	}
	if m.Message == "" {
		c.t.Fatalf("error %q has no human message", code)
	}
	return m
}

// expectClose reads until the server closes and returns the close code.
func (c *client) expectClose() int {
	c.t.Helper()
	for {
		c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			c.t.Fatalf("read ended with %v, want a close frame", err)
		}
	}
}

func join(t *testing.T, url, room, name string) (*client, msg) {
	t.Helper()
	return joinWith(t, url, room, name, nil)
}

// joinWith joins on a new connection with extra join fields (a token, a
// resume token) and returns the welcome.
func joinWith(t *testing.T, url, room, name string, extra map[string]any) (*client, msg) {
	t.Helper()
	m := map[string]any{"type": "join", "v": 1, "room": room, "name": name}
	for k, v := range extra {
		m[k] = v
	}
	c := dial(t, url)
	c.send(m)
	return c, c.expect(TypeWelcome)
}

func TestJoinWelcomeAndPeers(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 6, ICEServers: func(id string) []ICEServer {
		return []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: "x:" + id, Credential: "c"}}
	}})
	a, wa := join(t, url, "room-1", "  Ada  ")
	if wa.Name != "Ada" || wa.Room != "room-1" || len(wa.Peers) != 0 || wa.Mode != "mesh" || wa.Policy != "auto" {
		t.Fatalf("welcome = %+v", wa)
	}
	if wa.Limits.MeshMax != 6 || wa.Limits.MaxMessageBytes != MaxMessageBytes {
		t.Fatalf("limits = %+v", wa.Limits)
	}
	b, wb := join(t, url, "room-1", "Ada") // names need not be unique
	if wb.ID == wa.ID || len(wb.Peers) != 1 || wb.Peers[0] != (Peer{ID: wa.ID, Name: "Ada"}) {
		t.Fatalf("second welcome = %+v", wb)
	}
	if pj := a.expect(TypePeerJoined); pj.Peer.ID != wb.ID {
		t.Fatalf("peer-joined = %+v", pj)
	}

	a.send(map[string]any{"type": "signal", "to": wb.ID, "data": map[string]any{"sdp": "x"}})
	if s := b.expect(TypeSignal); s.From != wa.ID || string(s.Data) != `{"sdp":"x"}` {
		t.Fatalf("signal = %+v", s)
	}
	b.send(map[string]any{"type": "key", "data": "opaque"}) // broadcast
	if k := a.expect(TypeKey); k.From != wb.ID || string(k.Data) != `"opaque"` {
		t.Fatalf("key = %+v", k)
	}

	b.send(map[string]any{"type": "leave"})
	if code := b.expectClose(); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d after leave", code)
	}
	if pl := a.expect(TypePeerLeft); pl.Peer.ID != wb.ID || pl.Reason != "left" {
		t.Fatalf("peer-left = %+v", pl)
	}
}

func TestWelcomeCarriesICEServers(t *testing.T) {
	_, url := testHub(t, Options{ICEServers: func(id string) []ICEServer {
		return []ICEServer{{URLs: []string{"turn:h:3478"}, Username: "9:" + id, Credential: "c"}}
	}})
	c := dial(t, url)
	c.send(map[string]any{"type": "join", "v": 1, "room": "r", "name": "n"})
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var w welcomeMsg
	if err := c.ws.ReadJSON(&w); err != nil {
		t.Fatal(err)
	}
	if len(w.ICEServers) != 1 || w.ICEServers[0].Username != "9:"+w.ID {
		t.Fatalf("iceServers = %+v", w.ICEServers)
	}
}

func TestBadInput(t *testing.T) {
	_, url := testHub(t, Options{})
	long := strings.Repeat("é", MaxNameRunes+1)
	cases := []struct {
		name, frame string
		code        Code
	}{
		{"malformed JSON", `{"type":`, CodeBadJSON},
		{"not an object", `[1,2]`, CodeBadJSON},
		{"null", `null`, CodeBadJSON},
		{"no type", `{"room":"x"}`, CodeUnknownType},
		{"unknown type", `{"type":"dance"}`, CodeUnknownType},
		{"type not a string", `{"type":7}`, CodeBadField},
		{"missing version", `{"type":"join","room":"r","name":"n"}`, CodeMissingField},
		{"bad version", `{"type":"join","v":2,"room":"r","name":"n"}`, CodeBadVersion},
		{"missing room", `{"type":"join","v":1,"name":"n"}`, CodeMissingField},
		{"room not a string", `{"type":"join","v":1,"room":5,"name":"n"}`, CodeBadField},
		{"room with space", `{"type":"join","v":1,"room":"a b","name":"n"}`, CodeBadRoom},
		{"room with slash", `{"type":"join","v":1,"room":"../etc","name":"n"}`, CodeBadRoom},
		{"room too long", `{"type":"join","v":1,"room":"` + strings.Repeat("a", 65) + `","name":"n"}`, CodeBadRoom},
		{"missing name", `{"type":"join","v":1,"room":"r"}`, CodeBadName},
		{"blank name", `{"type":"join","v":1,"room":"r","name":"   "}`, CodeBadName},
		{"name too long", `{"type":"join","v":1,"room":"r","name":"` + long + `"}`, CodeBadName},
		{"control character", `{"type":"join","v":1,"room":"r","name":"a\u0007b"}`, CodeBadName},
		{"bidi override", `{"type":"join","v":1,"room":"r","name":"a\u202eb"}`, CodeBadName},
		{"signal before join", `{"type":"signal","to":"x","data":{}}`, CodeNotJoined},
		{"key before join", `{"type":"key","data":{}}`, CodeNotJoined},
		{"leave before join", `{"type":"leave"}`, CodeNotJoined},
		{"invalid UTF-8", `{"type":"key","data":"` + "\xff\xfe" + `"}`, CodeBadJSON},
	}
	c := dial(t, url)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.sendRaw(tc.frame)
			c.expectError(tc.code)
		})
	}
	// The connection survived all of it and can still join.
	c.t = t
	c.send(map[string]any{"type": "join", "v": 1, "room": "r", "name": "n"})
	c.expect(TypeWelcome)
}

func TestBadInputAfterJoin(t *testing.T) {
	_, url := testHub(t, Options{})
	a, _ := join(t, url, "r1", "A")
	_, wb := join(t, url, "r1", "B")
	a.expect(TypePeerJoined)
	_, wc := join(t, url, "r2", "C")

	a.send(map[string]any{"type": "join", "v": 1, "room": "r1", "name": "A"})
	if m := a.expectError(CodeAlreadyJoined); m.Ref != TypeJoin {
		t.Fatalf("ref = %q", m.Ref)
	}
	a.send(map[string]any{"type": "signal", "to": "nobody", "data": 1})
	a.expectError(CodeUnknownPeer)
	a.send(map[string]any{"type": "signal", "to": wc.ID, "data": 1}) // other room
	a.expectError(CodeUnknownPeer)
	a.send(map[string]any{"type": "signal", "to": wb.ID}) // no data
	a.expectError(CodeMissingField)
	a.send(map[string]any{"type": "signal", "data": 1}) // no to
	a.expectError(CodeMissingField)
	a.sendRaw(`{"type":"signal","to":"` + wb.ID + `","data":null}`)
	a.expectError(CodeMissingField)
	if err := a.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	a.expectError(CodeBadJSON)
}

func TestTooLargeClosesWith1009(t *testing.T) {
	_, url := testHub(t, Options{})
	a, _ := join(t, url, "r", "A")
	b, _ := join(t, url, "r", "B")
	a.expect(TypePeerJoined)
	a.sendRaw(`{"type":"key","data":"` + strings.Repeat("x", MaxMessageBytes) + `"}`)
	a.expectError(CodeTooLarge)
	if code := a.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	if pl := b.expect(TypePeerLeft); pl.Reason != "closed" {
		t.Fatalf("peer-left = %+v", pl)
	}
	// A message just under the limit still goes through.
	_, wc := join(t, url, "r", "C")
	b.expect(TypePeerJoined)
	big := strings.Repeat("y", MaxMessageBytes-100)
	b.send(map[string]any{"type": "signal", "to": wc.ID, "data": big})
	b.ws.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, m, err := b.ws.ReadMessage(); err == nil {
		t.Fatalf("B got %s for a message under the limit", m)
	}
}

func TestRateLimit(t *testing.T) {
	_, url := testHub(t, Options{RateLimit: 1, RateBurst: 5})
	a, _ := join(t, url, "r", "A") // the join spends one token
	for range 4 {
		a.send(map[string]any{"type": "key", "data": 1}) // alone in the room: no echo
	}
	a.send(map[string]any{"type": "key", "data": 1})
	a.expectError(CodeRateLimited)
	// A sustained flood is cut off with 1008, errors limited to one a second.
	for range maxRefusals + 5 {
		a.send(map[string]any{"type": "key", "data": 1})
	}
	if code := a.expectClose(); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d, want 1008", code)
	}
}

func TestRoomLifecycle(t *testing.T) {
	h, url := testHub(t, Options{})
	a, _ := join(t, url, "life", "A")
	b, _ := join(t, url, "life", "B")
	a.expect(TypePeerJoined)
	if rooms := h.Rooms(); len(rooms) != 1 || len(rooms[0].Peers) != 2 {
		t.Fatalf("rooms = %+v", rooms)
	}
	b.ws.Close()
	a.expect(TypePeerLeft)
	a.ws.Close()
	waitFor(t, func() bool { return len(h.Rooms()) == 0 })
}

func TestMeshOnlyRoomFull(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 2, Policy: PolicyMeshOnly})
	a, _ := join(t, url, "small", "A")
	join(t, url, "small", "B")
	a.expect(TypePeerJoined)
	c := dial(t, url)
	c.send(map[string]any{"type": "join", "v": 1, "room": "small", "name": "C"})
	m := c.expectError(CodeRoomFull)
	if m.Message != "this room is limited to 2 participants (mesh-only mode)" {
		t.Fatalf("message %q", m.Message)
	}
	// Nobody inside was disturbed: A hears nothing about C.
	a.ws.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, b, err := a.ws.ReadMessage(); err == nil {
		t.Fatalf("A got %s", b)
	}
}

func TestHeartbeatExpiry(t *testing.T) {
	_, url := testHub(t, Options{PingInterval: 50 * time.Millisecond, PongWait: 300 * time.Millisecond})
	a, _ := join(t, url, "hb", "A")
	b, _ := join(t, url, "hb", "B")
	// B stops answering pings (a vanished laptop): it never reads again.
	b.ws.SetPingHandler(func(string) error { return nil })
	start := time.Now()
	a.expect(TypePeerJoined)
	// A keeps reading, so its pongs flow and it stays.
	pl := a.expect(TypePeerLeft)
	if pl.Reason != "timeout" {
		t.Fatalf("reason %q, want timeout", pl.Reason)
	}
	t.Logf("vanished client removed after %v", time.Since(start).Round(time.Millisecond))
}

func TestShutdownNotifies(t *testing.T) {
	h, url := testHub(t, Options{})
	a, _ := join(t, url, "s", "A")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done <- h.Shutdown(ctx)
	}()
	a.expect(TypeServerShutdown)
	if code := a.expectClose(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestSlowConsumerDropped(t *testing.T) {
	var ln *stallListener
	// The heartbeat is pushed out of the way: only a full queue or a write
	// past its deadline may drop B here.
	opts := Options{SendQueue: 2, WriteWait: 200 * time.Millisecond, RateBurst: 1000, RateLimit: 1000,
		PingInterval: time.Minute, PongWait: 2 * time.Minute}
	_, url := testHubOn(t, opts, func(l net.Listener) net.Listener { ln = &stallListener{Listener: l}; return ln })
	a, _ := join(t, url, "slow", "A")
	b := dial(t, url)
	b.send(map[string]any{"type": "join", "v": 1, "room": "slow", "name": "B"})
	wb := b.expect(TypeWelcome)
	a.expect(TypePeerJoined)
	// B's network stops draining: the server's writes to it now block until
	// their deadline, as they would once a silent reader's window is full.
	ln.conn(1).stall()
	left, readErr := make(chan struct{}), make(chan error, 1)
	a.ws.SetReadDeadline(time.Time{}) // expect left one; A reads for as long as the test runs
	go func() {                       // A reads in the background: its own queue stays empty
		for {
			_, b, err := a.ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			var m msg
			json.Unmarshal(b, &m)
			if m.Type == TypePeerLeft && m.Peer.ID == wb.ID {
				close(left)
				return
			}
		}
	}()
	big := strings.Repeat("z", 60<<10)
	start, sent := time.Now(), 0
	for time.Since(start) < 10*time.Second {
		a.send(map[string]any{"type": "signal", "to": wb.ID, "data": big})
		sent++
		select {
		case <-left:
			return // B was dropped; A is fine
		case err := <-readErr:
			t.Fatalf("A's connection failed after %d messages: %v", sent, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("slow consumer was never dropped (%d messages of 60 KiB in %v)", sent, time.Since(start).Round(time.Millisecond))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
