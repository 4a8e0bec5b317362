package signaling

import (
	"encoding/json"
	"testing"
)

// TestKeyFilter: the test-only hook rewrites key messages per recipient,
// drops them when it returns nil, and leaves signals alone.
func TestKeyFilter(t *testing.T) {
	h, url := testHub(t, Options{})
	a, wa := join(t, url, "room-k", "A")
	b, wb := join(t, url, "room-k", "B")
	a.expect(TypePeerJoined)
	c, wc := join(t, url, "room-k", "C")
	a.expect(TypePeerJoined)
	b.expect(TypePeerJoined)
	h.SetKeyFilter(func(from, to string, data json.RawMessage) json.RawMessage {
		if to == wc.ID {
			return nil // withheld from C
		}
		if from == wb.ID {
			return json.RawMessage(`"forged"`)
		}
		return data
	})
	b.send(map[string]any{"type": "key", "data": "real"}) // broadcast
	if k := a.expect(TypeKey); k.From != wb.ID || string(k.Data) != `"forged"` {
		t.Fatalf("A got %+v, want B's key replaced", k)
	}
	a.send(map[string]any{"type": "key", "to": wc.ID, "data": "x"})
	a.send(map[string]any{"type": "key", "to": wb.ID, "data": "y"})
	if k := b.expect(TypeKey); k.From != wa.ID || string(k.Data) != `"y"` {
		t.Fatalf("B got %+v", k)
	}
	a.send(map[string]any{"type": "signal", "to": wc.ID, "data": "s"})
	if s := c.expect(TypeSignal); s.From != wa.ID || string(s.Data) != `"s"` {
		t.Fatalf("C got %+v, want the signal (the key was dropped)", s)
	}
	h.SetKeyFilter(nil)
	b.send(map[string]any{"type": "key", "to": wc.ID, "data": "real"})
	if k := c.expect(TypeKey); string(k.Data) != `"real"` {
		t.Fatalf("C got %+v after the filter was removed", k)
	}
}
