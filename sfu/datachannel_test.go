package sfu

import (
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// route builds a routed message: the clear header, then the (here unsealed)
// payload.
func route(from, to string, payload string) []byte {
	b := []byte{routeVersion, byte(len(from))}
	b = append(b, from...)
	b = append(b, byte(len(to)))
	b = append(b, to...)
	return append(b, payload...)
}

func TestParseRoute(t *testing.T) {
	long := string(make([]byte, maxRouteID+1))
	for _, tc := range []struct {
		name     string
		m        webrtc.DataChannelMessage
		from, to string
		ok       bool
	}{
		{"broadcast", webrtc.DataChannelMessage{Data: route("a", "", "x")}, "a", "", true},
		{"addressed", webrtc.DataChannelMessage{Data: route("a", "bb", "sealed")}, "a", "bb", true},
		{"empty payload", webrtc.DataChannelMessage{Data: route("a", "b", "")}, "a", "b", true},
		{"text", webrtc.DataChannelMessage{IsString: true, Data: route("a", "", "x")}, "", "", false},
		{"empty", webrtc.DataChannelMessage{}, "", "", false},
		{"version", webrtc.DataChannelMessage{Data: append([]byte{2}, route("a", "", "x")[1:]...)}, "", "", false},
		{"no sender", webrtc.DataChannelMessage{Data: []byte{1, 0, 0}}, "", "", false},
		{"sender cut", webrtc.DataChannelMessage{Data: []byte{1, 5, 'a', 'b'}}, "", "", false},
		{"addressee cut", webrtc.DataChannelMessage{Data: []byte{1, 1, 'a', 4, 'b'}}, "", "", false},
		{"sender too long", webrtc.DataChannelMessage{Data: route(long, "", "x")}, "", "", false},
		{"addressee too long", webrtc.DataChannelMessage{Data: route("a", long, "x")}, "", "", false},
	} {
		from, to, err := parseRoute(tc.m)
		if (err == nil) != tc.ok || from != tc.from || to != tc.to {
			t.Errorf("%s: parseRoute = %q, %q, %v; want %q, %q, ok=%v", tc.name, from, to, err, tc.from, tc.to, tc.ok)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	f.Add([]byte{1, 1, 'a', 0})
	f.Add(route("a", "b", "payload"))
	f.Fuzz(func(t *testing.T, b []byte) {
		from, to, err := parseRoute(webrtc.DataChannelMessage{Data: b})
		if err == nil && (from == "" || len(from) > maxRouteID || len(to) > maxRouteID) {
			t.Fatalf("accepted %q → %q", from, to)
		}
	})
}

// TestRoutedDataChannel checks addressed delivery on a "parley/" label: an
// addressed message reaches its addressee only, a broadcast everyone else,
// and a message claiming another sender, or with a bad header, nobody.
func TestRoutedDataChannel(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := newTestServer(t)
	clients := map[string]*testClient{}
	for _, id := range []string{"a", "b", "c"} {
		clients[id] = join(t, s, "r", id, clientOptions{data: true})
	}
	ctl := map[string]*webrtc.DataChannel{}
	for id, c := range clients {
		waitFor(t, 10*time.Second, id+"'s channel to open", func() bool { return c.chat.ReadyState() == webrtc.DataChannelStateOpen })
		dc, err := c.pc.CreateDataChannel(RoutedLabelPrefix+"ctl", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.listen(dc)
		ctl[id] = dc
	}
	for id, dc := range ctl {
		waitFor(t, 10*time.Second, id+"'s routed channel to open", func() bool { return dc.ReadyState() == webrtc.DataChannelStateOpen })
	}
	send := func(from string, b []byte) {
		t.Helper()
		if err := ctl[from].Send(b); err != nil {
			t.Fatal(err)
		}
	}
	send("a", route("a", "b", "for b"))
	send("a", route("b", "", "forged"))      // a speaking as b: dropped
	send("a", route("a", "nobody", "gone"))  // unknown addressee: dropped
	send("a", []byte{9, 9, 9})               // bad header: dropped
	send("a", route("a", "a", "to myself"))  // to the sender: dropped
	send("a", route("a", "", "for all"))     // everyone but a
	send("c", route("c", "a", "for a only")) // c → a

	got := func(c *testClient) []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		var out []string
		for _, m := range c.dataIn {
			from, _, err := parseRoute(m)
			if err != nil {
				out = append(out, "?"+string(m.Data))
				continue
			}
			out = append(out, from+":"+string(m.Data[len(m.Data)-len(payloadOf(m.Data)):]))
		}
		return out
	}
	want := map[string][]string{
		"a": {"c:for a only"},
		"b": {"a:for b", "a:for all"},
		"c": {"a:for all"},
	}
	for id, w := range want {
		c := clients[id]
		waitFor(t, 10*time.Second, id+" to receive its messages", func() bool { return len(got(c)) >= len(w) })
	}
	time.Sleep(300 * time.Millisecond) // anything misrouted would have arrived by now
	for id, w := range want {
		if g := got(clients[id]); !equalStrings(g, w) {
			t.Errorf("%s received %q, want %q", id, g, w)
		}
	}
	if st := s.Stats(); st.DataDropped < 4 {
		t.Errorf("Stats.DataDropped = %d, want ≥ 4 (forged, unknown addressee, bad header, to self)", st.DataDropped)
	}
}

// payloadOf returns what follows a well-formed routing header.
func payloadOf(b []byte) []byte {
	n := int(b[1])
	k := int(b[2+n])
	return b[3+n+k:]
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
