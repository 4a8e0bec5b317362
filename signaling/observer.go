package signaling

// Observer is told about signaling events so that internal/metrics can
// count them without signaling importing a metrics library. Calls come
// from connection goroutines, some with Hub.mu held: an implementation must
// be fast, must not block and must not call back into the Hub.
type Observer interface {
	// Message counts one client message by type: one of the protocol's
	// types, or "unknown" (client input never becomes a label as is).
	Message(typ string)
	// Error counts one `error` message sent to a client, by code.
	Error(code Code)
	// Joined counts one admitted join.
	Joined()
	// JoinRefused counts one refused join, by code.
	JoinRefused(code Code)
	// ModeSwitched counts one room changing mode.
	ModeSwitched(from, to Mode)
	// ClientStats passes on one client's `stats` report.
	ClientStats(s ClientStats)
}

// ClientStats is one `stats` report of a client (docs/protocol.md): counts
// since its previous report, without identities or content.
type ClientStats struct {
	// DecryptFailures is how many received frames failed E2EE decryption
	// although their sender's key had arrived: an alarm.
	DecryptFailures uint64
	// DecryptFailuresBeforeKey is how many received frames failed because
	// their sender's key had not arrived yet: normal at the start of a
	// call and when someone joins, so kept apart from DecryptFailures.
	DecryptFailuresBeforeKey uint64
	// DecryptedFrames is how many received frames decrypted.
	DecryptedFrames uint64
	// SwitchMillis is how long the client's last mode switch took, from the
	// `mode` message until every tile showed the new path; 0: none since
	// the previous report.
	SwitchMillis uint64
}

// nopObserver is the Observer of a Hub without one.
type nopObserver struct{}

func (nopObserver) Message(string)          {}
func (nopObserver) Error(Code)              {}
func (nopObserver) Joined()                 {}
func (nopObserver) JoinRefused(Code)        {}
func (nopObserver) ModeSwitched(Mode, Mode) {}
func (nopObserver) ClientStats(ClientStats) {}

// knownTypes are the client message types an Observer may see by name.
var knownTypes = map[string]bool{
	TypeJoin: true, TypeSignal: true, TypeKey: true, TypeLeave: true, TypeStats: true, TypeModerate: true, TypeMLS: true, TypeLinkFailed: true,
}

// messageLabel is typ when it is a protocol type, else "unknown".
func messageLabel(typ string) string {
	if knownTypes[typ] {
		return typ
	}
	return "unknown"
}
