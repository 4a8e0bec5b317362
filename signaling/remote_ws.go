package signaling

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ErrClosing is returned for work offered to a Hub that is shutting down.
var ErrClosing = errors.New("signaling: hub is shutting down")

// errLinkGone ends the reading of a link whose other side went away without
// a close frame: the participant is away, as after a dropped socket. It is
// the error gorilla gives for a browser socket that broke (1006, abnormal
// closure), so readError counts it as the network, resumable; a bare error
// would count as a malformed frame, and the participant would leave at once
// (a relayed browser that reconnected through another node then joined
// afresh instead of resuming).
var errLinkGone = &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: "relaying node's connection ended"}

// wsConn is what a conn needs of its WebSocket: a gorilla connection for a
// browser on this node, a linkWS for one relayed from another node.
type wsConn interface {
	SetReadLimit(limit int64)
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	SetPongHandler(h func(appData string) error)
	NextReader() (messageType int, r io.Reader, err error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	RemoteAddr() net.Addr
	Close() error
}

// maxLinkQueue bounds the frames from a relaying node waiting for this
// node's reader: the relaying node applies the same rate limits, so a full
// queue means a broken or hostile peer, and the connection ends.
const maxLinkQueue = 512

// linkWS is a WebSocket whose frames travel over a Link: the room node's
// side of a relayed participant. Its reader goroutine is the conn's; frames
// arrive through deliver, on the link's goroutine.
type linkWS struct {
	link   Link
	remote net.Addr
	in     chan Frame
	wake   chan struct{} // a new read deadline
	closed chan struct{}
	once   sync.Once
	onLost func() // set before the conn runs

	mu        sync.Mutex // guards the fields below
	deadline  time.Time
	pong      func(string) error
	limit     int64
	sentClose bool
}

func newLinkWS(link Link, remote string) *linkWS {
	addr, err := net.ResolveTCPAddr("tcp", remote)
	var a net.Addr = addr
	if err != nil || addr == nil {
		a = &net.TCPAddr{}
	}
	return &linkWS{link: link, remote: a, in: make(chan Frame, maxLinkQueue), wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

// deliver queues a frame from the relaying node. Pongs are handled at once,
// as gorilla does while reading.
func (l *linkWS) deliver(f Frame) {
	if f.Kind == FramePong {
		l.mu.Lock()
		pong := l.pong
		l.mu.Unlock()
		if pong != nil {
			pong("")
		}
		return
	}
	select {
	case l.in <- f:
	case <-l.closed:
	default:
		l.Close()
	}
}

func (l *linkWS) SetReadLimit(n int64) {
	l.mu.Lock()
	l.limit = n
	l.mu.Unlock()
}

func (l *linkWS) SetReadDeadline(t time.Time) error {
	l.mu.Lock()
	l.deadline = t
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

func (l *linkWS) SetWriteDeadline(time.Time) error { return nil } // Link.Send does not block

func (l *linkWS) SetPongHandler(h func(string) error) {
	l.mu.Lock()
	l.pong = h
	l.mu.Unlock()
}

func (l *linkWS) RemoteAddr() net.Addr { return l.remote }

// NextReader returns the next data frame, or the error a WebSocket would
// give: a CloseError for a close frame, a timeout past the read deadline.
func (l *linkWS) NextReader() (int, io.Reader, error) {
	for {
		l.mu.Lock()
		deadline, limit := l.deadline, l.limit
		l.mu.Unlock()
		f, err := l.next(deadline)
		if err != nil || f.Kind == 0 {
			if err != nil {
				return 0, nil, err
			}
			continue // a new deadline
		}
		switch f.Kind {
		case FrameText, FrameBinary:
			if limit > 0 && int64(len(f.Data)) > limit {
				return 0, nil, websocket.ErrReadLimit
			}
			kind := websocket.TextMessage
			if f.Kind == FrameBinary {
				kind = websocket.BinaryMessage
			}
			return kind, bytes.NewReader(f.Data), nil
		case FrameClose:
			return 0, nil, &websocket.CloseError{Code: f.Code, Text: string(f.Data)}
		case FrameLost:
			if l.onLost != nil {
				l.onLost()
			}
			return 0, nil, errLinkGone
		case FrameGone:
			return 0, nil, errLinkGone
		}
		// anything else (a ping from the relaying node) is ignored
	}
}

// next waits for a frame until deadline; a zero Frame means the deadline
// changed meanwhile.
func (l *linkWS) next(deadline time.Time) (Frame, error) {
	var expire <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expire = t.C
	}
	select {
	case f := <-l.in:
		return f, nil
	case <-expire:
		return Frame{}, timeoutError{}
	case <-l.wake:
		return Frame{}, nil
	case <-l.closed:
		return Frame{}, net.ErrClosed
	}
}

func (l *linkWS) WriteMessage(kind int, data []byte) error {
	f := Frame{Kind: FrameText, Data: data}
	switch kind {
	case websocket.BinaryMessage:
		f.Kind = FrameBinary
	case websocket.CloseMessage:
		f = Frame{Kind: FrameClose, Code: websocket.CloseNoStatusReceived}
		if len(data) >= 2 {
			f.Code, f.Data = int(binary.BigEndian.Uint16(data)), data[2:]
		}
		l.mu.Lock()
		l.sentClose = true
		l.mu.Unlock()
	}
	return l.link.Send(f)
}

func (l *linkWS) WriteControl(kind int, data []byte, _ time.Time) error {
	if kind == websocket.PingMessage {
		return l.link.Send(Frame{Kind: FramePing})
	}
	return l.WriteMessage(kind, data)
}

// Close ends the link; unless a close frame went first, the relaying node
// hears Gone and drops the browser's connection.
func (l *linkWS) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.mu.Lock()
		sent := l.sentClose
		l.mu.Unlock()
		if !sent {
			l.link.Send(Frame{Kind: FrameGone})
		}
		l.link.Close()
	})
	return nil
}

// timeoutError is the net.Error of a read past its deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "signaling: relayed connection read timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
