package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
)

// The envelope's keys are decoded exactly as docs/protocol.md spells them.
// encoding/json alone would match `"TYPE"` or `"To"` to a field
// case-insensitively and keep the last of two equal keys, so a frame could
// mean one thing to Parley and another to a proxy, a log reader or a client
// library that reads it too. Every key of a client message must be one of
// inbound's `json` names, spelled exactly, at most once; anything else is
// refused with bad-json.

// inboundKeys maps each key a client message may carry to its field index
// in inbound. Built once from the struct tags, so a field added to inbound
// is a known key with nothing else to update.
var inboundKeys = sync.OnceValue(func() map[string]int {
	t := reflect.TypeFor[inbound]()
	keys := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = i
		}
	}
	return keys
})

// decodeEnvelope fills in from frame, a JSON object whose values stay raw
// (decode validates each by the message's type).
func decodeEnvelope(frame []byte, in *inbound) *ProtocolError {
	dec := json.NewDecoder(bytes.NewReader(frame))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return protoErr(CodeBadJSON, "a message must be a JSON object")
	}
	keys := inboundKeys()
	fields := reflect.ValueOf(in).Elem()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return badJSON(err)
		}
		key, _ := tok.(string) // inside an object, Token returns keys as strings
		i, ok := keys[key]
		if !ok {
			return unknownKey(key, keys)
		}
		dst := fields.Field(i).Addr().Interface().(*json.RawMessage)
		if len(*dst) > 0 {
			return protoErr(CodeBadJSON, "key %q appears more than once", key)
		}
		if err := dec.Decode(dst); err != nil {
			return badJSON(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return badJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return protoErr(CodeBadJSON, "invalid JSON: data after the message's object")
	}
	return nil
}

func badJSON(err error) *ProtocolError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return protoErr(CodeBadJSON, "invalid JSON: unexpected end of the message")
	}
	return protoErr(CodeBadJSON, "invalid JSON: %v", err)
}

// unknownKey refuses a key no client message has, naming the documented
// spelling when only the case differs.
func unknownKey(key string, keys map[string]int) *ProtocolError {
	for k := range keys {
		if strings.EqualFold(k, key) {
			return protoErr(CodeBadJSON, "unknown key %q: keys are case-sensitive (the protocol's is %q)", truncate(key, 32), k)
		}
	}
	return protoErr(CodeBadJSON, "unknown key %q (docs/protocol.md lists each message's keys)", truncate(key, 32))
}
