package server

import "github.com/parleyhq/parley/signaling"

// SetKeyFilter installs a test-only filter on relayed E2EE `key` messages
// (signaling.KeyFilter): tests play a server that tampers with keys. It
// cannot be set from configuration.
func (s *Server) SetKeyFilter(f signaling.KeyFilter) {
	s.hub.SetKeyFilter(f)
}
