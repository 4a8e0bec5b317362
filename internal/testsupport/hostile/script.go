package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// Ready-made misbehaviours; a test combines them with Chain or writes its
// own Script.

// Chain runs scripts one after the other: each gets what the one before
// returned.
func Chain(scripts ...Script) Script {
	return func(c *Conn, m Message) []Message {
		out := []Message{m}
		for _, s := range scripts {
			var next []Message
			for _, o := range out {
				next = append(next, s(c, o)...)
			}
			out = next
		}
		return out
	}
}

// For applies s only on connections whose participant name (from their
// welcome) is name; the others pass.
func For(name string, s Script) Script {
	return func(c *Conn, m Message) []Message {
		if c.Name() != name {
			return []Message{m}
		}
		return s(c, m)
	}
}

// FlipE2EE tells browsers the room is not end-to-end encrypted: welcome's
// e2ee becomes false (docs/e2ee.md "Unencrypted rooms").
func FlipE2EE(_ *Conn, m Message) []Message {
	if m.Type() == "welcome" {
		m.Set("e2ee", false)
	}
	return []Message{m}
}

// E2EEOff is the message that says the room is no longer encrypted.
func E2EEOff() Message { return NewMessage("e2ee", map[string]any{"e2ee": false}) }

// Relabel shows participant name from under the name to, in welcome's
// peers, peer-joined, peer-away/back and peer-left: the server deciding
// who is who (docs/e2ee.md "Hostile-server tests").
func Relabel(from, to string) Script {
	fix := func(p map[string]any) {
		if p["name"] == from {
			p["name"] = to
		}
	}
	return func(_ *Conn, m Message) []Message {
		switch m.Type() {
		case "welcome":
			var peers []map[string]any
			if m.Get("peers", &peers) {
				for _, p := range peers {
					fix(p)
				}
				m.Set("peers", peers)
			}
		case "peer-joined", "peer-away", "peer-back", "peer-left":
			var p map[string]any
			if m.Get("peer", &p) {
				fix(p)
				m.Set("peer", p)
			}
		}
		return []Message{m}
	}
}

// RerouteTracks rewrites the SFU's `tracks` payloads (docs/protocol.md
// "SFU payloads"): a track the SFU says is from participant a is said to
// be from swap[a], so it lands on that participant's tile.
func RerouteTracks(swap map[string]string) Script {
	return func(_ *Conn, m Message) []Message {
		var from string
		if m.Type() != "signal" || !m.Get("from", &from) || from != "sfu" {
			return []Message{m}
		}
		var data map[string]any
		if !m.Get("data", &data) {
			return []Message{m}
		}
		tracks, ok := data["tracks"].([]any)
		if !ok {
			return []Message{m}
		}
		for _, t := range tracks {
			if tr, ok := t.(map[string]any); ok {
				if peer, ok := tr["peer"].(string); ok && swap[peer] != "" {
					tr["peer"] = swap[peer]
				}
			}
		}
		m.Set("data", data)
		return []Message{m}
	}
}

// Holder withholds the messages a test picks and gives them back later
// (reordering, a commit held in flight, a refusal to relay).
type Holder struct {
	match func(*Conn, Message) bool

	mu   sync.Mutex // guards held and on
	on   bool
	held []held
}

type held struct {
	c *Conn
	m Message
}

// NewHolder withholds, once On, every message match accepts.
func NewHolder(match func(*Conn, Message) bool) *Holder {
	return &Holder{match: match}
}

// On starts (true) or stops withholding.
func (h *Holder) On(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = on
}

// Script is the holder as a Script (for the direction it is set on).
func (h *Holder) Script(c *Conn, m Message) []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on || !h.match(c, m) {
		return []Message{m}
	}
	h.held = append(h.held, held{c, m})
	return nil
}

// Held is how many messages are held.
func (h *Holder) Held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// Release delivers the held messages to browsers, last first when reverse
// (reordering), and forgets them. It returns how many it delivered.
func (h *Holder) Release(reverse bool) int {
	h.mu.Lock()
	list := h.held
	h.held = nil
	h.mu.Unlock()
	if reverse {
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	n := 0
	for _, x := range list {
		if x.c.ToClient(x.m) == nil {
			n++
		}
	}
	return n
}

// GhostID returns a participant id that never joined, shaped like the
// server's (10 lower-case characters).
func GhostID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// GhostJoined is a peer-joined for a participant that never joined.
func GhostJoined(id, name string) Message {
	return NewMessage("peer-joined", map[string]any{"peer": map[string]any{"id": id, "name": name}})
}
