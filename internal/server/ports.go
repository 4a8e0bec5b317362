package server

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// ErrPortInUse marks a listen failure because another process holds the
// address; the message names the flag (or key) to change.
var ErrPortInUse = errors.New("address already in use")

// listener names one of Parley's listening sockets the way an operator
// changes it.
type listener struct {
	what string // e.g. "the SFU's UDP port"
	flag string // e.g. "--sfu-port"; "" when only the key exists
	key  string // e.g. "sfu.udp_port"
}

var (
	httpListener     = listener{"the HTTP listener", "--http", "http"}
	metricsListener  = listener{"the metrics listener", "--metrics", "metrics.listen"}
	acmeListener     = listener{"the ACME HTTP-01 listener", "", "tls.acme_http_listen"}
	sfuListener      = listener{"the SFU's UDP port", "--sfu-port", "sfu.udp_port"}
	turnListener     = listener{"the TURN server (UDP and TCP)", "--turn", "turn.listen"}
	turnTLSListener  = listener{"the TURN-over-TLS listener", "--turn-tls", "turn.tls_listen"}
	errTURNListenTLS = "listen tls" // turn.Server.Start's wording for its TLS socket
)

// explainListen turns "address already in use" into a message that says
// which of Parley's sockets it was and which flag moves it; other errors
// come back unchanged.
func explainListen(err error, l listener, addr string) error {
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	change := "the " + l.key + " key"
	if l.flag != "" {
		change = l.flag + " (" + l.key + ")"
	}
	return fmt.Errorf("%w: %s %s is taken by another program (another Parley?): stop it, or choose another address with %s: %w",
		ErrPortInUse, l.what, addr, change, err)
}

// explainTURN is explainListen for turn.Server.Start, which opens two
// kinds of socket.
func explainTURN(err error, listen, tlsListen string) error {
	if err != nil && strings.Contains(err.Error(), errTURNListenTLS) {
		return explainListen(err, turnTLSListener, tlsListen)
	}
	return explainListen(err, turnListener, listen)
}
