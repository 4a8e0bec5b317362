package signaling

import (
	"encoding/json"
	"testing"
	"time"
)

// mlsMsg is an `mls` message as a client reads it.
type mlsMsg struct {
	Type  string  `json:"type"`
	Kind  string  `json:"kind"`
	From  string  `json:"from"`
	Epoch *uint64 `json:"epoch"`
	Data  string  `json:"data"`
	Proof string  `json:"proof"`
	Tag   string  `json:"tag"`
	Code  Code    `json:"code"`
}

func (c *client) expectMLS(kind string) mlsMsg {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m mlsMsg
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("decode %s: %v", b, err)
	}
	if m.Type != TypeMLS || m.Kind != kind {
		c.t.Fatalf("got %s, want mls %s", b, kind)
	}
	return m
}

// staleErr is the mls-stale `error` as a client reads it.
type staleErr struct {
	Type    string  `json:"type"`
	Code    Code    `json:"code"`
	Message string  `json:"message"`
	Ref     string  `json:"ref"`
	Of      string  `json:"of"`
	Epoch   *uint64 `json:"epoch"`
	Current uint64  `json:"current"`
	Group   bool    `json:"group"`
}

// expectStale reads an mls-stale error and checks that it names what lost
// (of, and a commit's epoch; want -1 for none) and the room's epoch now.
func (c *client) expectStale(of string, epoch int64, current uint64) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m staleErr
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("decode %s: %v", b, err)
	}
	gotEpoch := int64(-1)
	if m.Epoch != nil {
		gotEpoch = int64(*m.Epoch)
	}
	if m.Type != TypeError || m.Code != CodeMLSStale || m.Ref != TypeMLS || m.Message == "" ||
		m.Of != of || gotEpoch != epoch || m.Current != current {
		c.t.Fatalf("got %s, want mls-stale of %s epoch %d (room at %d)", b, of, epoch, current)
	}
}

// TestMLSDeliveryService: create once, KeyPackages to the others, the
// first commit for an epoch wins and reaches everyone (its sender too)
// before its Welcome, a stale commit or one from a participant who holds no
// group is refused with mls-stale, and the
// group resets when every holder has left.
func TestMLSDeliveryService(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 6})
	a, wa := joinMLS(t, url, "r")
	if wa.group {
		t.Fatal("a new room has no group")
	}
	a.send(map[string]any{"type": "mls", "kind": "create"})
	b, wb := joinMLS(t, url, "r")
	a.expect(TypePeerJoined)
	if !wb.group || wb.epoch != 0 {
		t.Fatalf("b's welcome: mls = %+v", wb)
	}
	b.send(map[string]any{"type": "mls", "kind": "create"})
	b.expectStale("create", -1, 0)

	b.send(map[string]any{"type": "mls", "kind": "kp", "data": "S1AtYg", "proof": "cHJvb2Y"})
	if m := a.expectMLS("kp"); m.From != wb.id || m.Data != "S1AtYg" || m.Proof != "cHJvb2Y" {
		t.Fatalf("kp relayed as %+v", m)
	}
	c, _ := joinMLS(t, url, "r")
	a.expect(TypePeerJoined)
	b.expect(TypePeerJoined)

	// a and c both commit for epoch 0: a's comes first and wins.
	a.send(map[string]any{"type": "mls", "kind": "commit", "epoch": 0, "data": "Y29tbWl0",
		"welcome": map[string]any{"to": []string{wb.id, wb.id}, "data": "d2VsY29tZQ", "tag": "dGFn"}})
	for _, cl := range []*client{a, b, c} {
		if m := cl.expectMLS("commit"); m.From != wa.id || *m.Epoch != 0 || m.Data != "Y29tbWl0" {
			t.Fatalf("commit relayed as %+v", m)
		}
	}
	if m := b.expectMLS("welcome"); m.Data != "d2VsY29tZQ" || m.Tag != "dGFn" || *m.Epoch != 1 {
		t.Fatalf("welcome relayed as %+v", m)
	}
	c.send(map[string]any{"type": "mls", "kind": "commit", "epoch": 0, "data": "bGF0ZQ"})
	c.expectStale("commit", 0, 1) // names the losing commit's epoch, not the room's
	// c holds no group (it was never welcomed: a create of its own that
	// lost, say): its commit for the right epoch is refused all the same.
	c.send(map[string]any{"type": "mls", "kind": "commit", "epoch": 1, "data": "b3JwaGFu"})
	c.expectStale("commit", 1, 1)
	b.send(map[string]any{"type": "mls", "kind": "commit", "epoch": 1, "data": "bmV4dA"})
	for _, cl := range []*client{a, b, c} {
		if m := cl.expectMLS("commit"); m.From != wb.id || *m.Epoch != 1 {
			t.Fatalf("second commit relayed as %+v", m)
		}
	}

	// Holders now: a (created), b (welcomed, committed). All leave but one
	// who never held it: the room resets.
	d, wd := joinMLS(t, url, "r")
	if !wd.group || wd.epoch != 2 {
		t.Fatalf("d's welcome: mls = %+v", wd)
	}
	for _, cl := range []*client{a, b, c} {
		cl.expect(TypePeerJoined)
	}
	for _, cl := range []*client{c, a, b} {
		cl.send(map[string]any{"type": "leave"})
		d.expect(TypePeerLeft)
	}
	d.expectMLS("reset")
	d.send(map[string]any{"type": "mls", "kind": "create"})
	_, we := joinMLS(t, url, "r")
	d.expect(TypePeerJoined)
	if !we.group || we.epoch != 0 {
		t.Fatalf("after a reset and create: mls = %+v", we)
	}
}

func TestMLSBadInput(t *testing.T) {
	_, url := testHub(t, Options{MeshMax: 6})
	a, _ := joinMLS(t, url, "r")
	for _, m := range []map[string]any{
		{"type": "mls"},
		{"type": "mls", "kind": "nope"},
		{"type": "mls", "kind": "kp"},
		{"type": "mls", "kind": "kp", "data": "x", "proof": string(make([]byte, 65))},
		{"type": "mls", "kind": "commit", "data": "x"},
		{"type": "mls", "kind": "commit", "epoch": -1, "data": "x"},
		{"type": "mls", "kind": "commit", "epoch": 0, "data": "x", "welcome": map[string]any{"to": []string{}, "data": "x"}},
		{"type": "mls", "kind": "commit", "epoch": 0, "data": "x", "welcome": "x"},
	} {
		a.send(m)
		if e := a.expect(TypeError); e.Code != CodeMissingField && e.Code != CodeBadField {
			t.Errorf("%v: error %s", m, e.Code)
		}
	}
	// A commit before any group exists is stale, not accepted.
	a.send(map[string]any{"type": "mls", "kind": "commit", "epoch": 7, "data": "x"})
	a.expectStale("commit", 7, 0)
}

type joinedMLS struct {
	id    string
	group bool
	epoch uint64
}

// joinMLS joins and reads the welcome's mls field.
func joinMLS(t *testing.T, url, room string) (*client, joinedMLS) {
	t.Helper()
	c := dial(t, url)
	c.send(map[string]any{"type": "join", "v": 1, "room": room, "name": "x"})
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Type string   `json:"type"`
		ID   string   `json:"id"`
		MLS  MLSState `json:"mls"`
	}
	if err := json.Unmarshal(b, &w); err != nil || w.Type != TypeWelcome {
		t.Fatalf("welcome: %s (%v)", b, err)
	}
	return c, joinedMLS{id: w.ID, group: w.MLS.Group, epoch: w.MLS.Epoch}
}
