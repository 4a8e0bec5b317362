package signaling

import "encoding/json"

// KeyFilter sees every relayed `key` message on its way to one recipient
// and returns the data to deliver instead, or nil to drop it. It exists for
// tests of the end-to-end encryption (docs/e2ee.md): a server that swaps a
// participant's public key or withholds wrapped keys, the attacks the
// clients must detect or survive. It is settable only from Go
// (Hub.SetKeyFilter), never from configuration. It runs with the hub's
// lock held: it must not call back into the hub.
type KeyFilter func(from, to string, data json.RawMessage) json.RawMessage

// SetKeyFilter installs f (nil removes it) for key messages relayed from now on.
func (h *Hub) SetKeyFilter(f KeyFilter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keyFilter = f
}

// relayKeyFiltered delivers a key message through the installed filter, one
// recipient at a time. Called with h.mu held.
func (h *Hub) relayKeyFiltered(c *conn, r *room, to *conn, data json.RawMessage) {
	deliver := func(m *conn) {
		d := h.keyFilter(c.id, m.id, data)
		if d == nil {
			return
		}
		m.send(encode(relayMsg{Type: TypeKey, From: c.id, Data: d}))
	}
	if to != nil {
		deliver(to)
		return
	}
	for _, m := range r.members {
		if m != c {
			deliver(m)
		}
	}
}
