package load

import (
	"slices"
	"testing"
)

// TestURLListSpreadsParticipants: a --url list spreads each room's
// participants over every node, and a single URL is unchanged.
func TestURLListSpreadsParticipants(t *testing.T) {
	r := &runner{opts: Options{URL: "http://127.0.0.1:1, http://127.0.0.1:2,http://127.0.0.1:3"}}
	if err := (&Options{URL: r.opts.URL, Rooms: 1, Participants: 1, Publishers: 1}).checkURLs(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 3 {
		got = append(got, r.wsFor(&participant{room: 1, index: i}))
	}
	want := []string{"ws://127.0.0.1:2/ws", "ws://127.0.0.1:3/ws", "ws://127.0.0.1:1/ws"}
	if !slices.Equal(got, want) {
		t.Fatalf("room 1 enters through %v, want %v", got, want)
	}
	if f := firstURL(r.opts.URL); f != "http://127.0.0.1:1" {
		t.Fatalf("first URL %q", f)
	}
	one := &runner{opts: Options{URL: "http://127.0.0.1:9"}}
	if ws := one.wsFor(&participant{room: 3, index: 2}); ws != "ws://127.0.0.1:9/ws" {
		t.Fatalf("single URL gives %q", ws)
	}
	if err := (&Options{URL: "http://127.0.0.1:1,ftp://x"}).checkURLs(); err == nil {
		t.Fatal("a bad URL in the list was accepted")
	}
}
