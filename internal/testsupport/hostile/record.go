package hostile

import (
	"encoding/json"
	"time"
)

// Dir is the direction of a message through the proxy.
type Dir int

const (
	// ToClient is from the real server to a browser.
	ToClient Dir = iota
	// ToServer is from a browser to the real server.
	ToServer
)

func (d Dir) String() string {
	if d == ToClient {
		return "to-client"
	}
	return "to-server"
}

// Record is one message the proxy saw, as it arrived (before any script
// changed it), and whether it was delivered unchanged.
type Record struct {
	Conn int    // the connection's number (Conn.N)
	Peer string // its participant id, once its welcome went by
	Dir  Dir
	At   time.Time
	Type string // the message's type ("" for a frame that is not a JSON object)
	Raw  []byte
	// Passed is true when the script let the message through unchanged.
	Passed bool
}

// Message parses the record (nil for a frame that was not JSON).
func (r Record) Message() Message {
	m, err := ParseMessage(r.Raw)
	if err != nil {
		return nil
	}
	return m
}

// Data decodes the record's data field into v (signal and key payloads).
func (r Record) Data(v any) bool {
	m := r.Message()
	raw, ok := m["data"]
	return ok && json.Unmarshal(raw, v) == nil
}
