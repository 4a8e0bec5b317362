package signaling

// clientStats records one client's `stats` report: the room keeps the sum
// of its E2EE counts (no per-participant record), and the Observer gets
// the report for the process-wide metrics.
func (h *Hub) clientStats(c *conn, s ClientStats) {
	h.mu.Lock()
	if r := c.room; r != nil {
		r.decryptFailures += s.DecryptFailures
		r.decryptedFrames += s.DecryptedFrames
	}
	h.mu.Unlock()
	h.opts.Observer.ClientStats(s)
	if s.DecryptFailures > 0 {
		c.log.Debug("client reports decryption failures", "failures", s.DecryptFailures)
	}
}
