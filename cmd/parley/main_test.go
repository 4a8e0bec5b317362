package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sfuPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func sfuPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	return port
}

func noEnv(string) (string, bool) { return "", false }

// TestGracefulShutdown: when the process is told to stop, connected
// participants get server-shutdown and a 1001 close, and run returns nil.
func TestGracefulShutdown(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The SFU on a port of its own: another test package running at
		// the same time may hold the default 7882.
		done <- run(ctx, []string{"--http", addr, "--sfu-listen", "127.0.0.1", "--sfu-port", sfuPort(t),
			"--turn", "off", "--metrics", "off", "--log-level", "error"}, noEnv, io.Discard)
	}()

	var ws *websocket.Conn
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if ws, _, err = websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never came up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer ws.Close()
	ws.WriteJSON(map[string]any{"type": "join", "v": 1, "room": "r", "name": "A"})
	var m map[string]any
	if err := ws.ReadJSON(&m); err != nil || m["type"] != "welcome" {
		t.Fatalf("welcome: %v %v", m, err)
	}

	cancel() // what SIGINT/SIGTERM do through signal.NotifyContext
	if err := ws.ReadJSON(&m); err != nil || m["type"] != "server-shutdown" {
		t.Fatalf("want server-shutdown, got %v %v", m, err)
	}
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("want close 1001, got %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
}

func TestBadConfigFailsClearly(t *testing.T) {
	err := run(context.Background(), []string{"--mesh-max", "zero"}, noEnv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--mesh-max") {
		t.Fatalf("err = %v", err)
	}
	if err := run(context.Background(), []string{"-h"}, noEnv, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}
