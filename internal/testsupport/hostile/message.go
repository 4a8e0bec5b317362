package hostile

import (
	"encoding/json"
	"fmt"
	"maps"
)

// Message is one signaling message, field by field, so a script can strip,
// swap or rewrite any field and leave the rest byte for byte as the real
// server sent it.
type Message map[string]json.RawMessage

// ParseMessage decodes a text frame; it fails on anything but a JSON
// object (such frames are relayed untouched).
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("hostile: not a JSON object: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("hostile: null is not a message")
	}
	return m, nil
}

// NewMessage builds a message of type typ from fields (JSON-encoded).
func NewMessage(typ string, fields map[string]any) Message {
	m := Message{}
	m.Set("type", typ)
	for k, v := range fields {
		m.Set(k, v)
	}
	return m
}

// Type is the message's type, or "".
func (m Message) Type() string {
	var s string
	_ = m.Get("type", &s)
	return s
}

// Get decodes field key into v; false when it is absent or does not fit.
func (m Message) Get(key string, v any) bool {
	raw, ok := m[key]
	return ok && json.Unmarshal(raw, v) == nil
}

// Set replaces field key with v's JSON encoding. v must encode (a test's
// own values), so an encoding error is a bug in the test: it panics.
func (m Message) Set(key string, v any) Message {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hostile: field %s: %v", key, err))
	}
	m[key] = b
	return m
}

// Delete strips field key.
func (m Message) Delete(key string) Message {
	delete(m, key)
	return m
}

// Clone copies the message, so a rewrite never changes what was recorded.
func (m Message) Clone() Message { return maps.Clone(m) }

// Bytes encodes the message for the wire.
func (m Message) Bytes() []byte {
	b, _ := json.Marshal(map[string]json.RawMessage(m)) // raw fields are valid JSON
	return b
}

// String is the message as JSON, for test logs.
func (m Message) String() string { return string(m.Bytes()) }
