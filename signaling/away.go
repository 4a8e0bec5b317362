package signaling

import "time"

// Bounds on away participants (resume.go). An away participant costs its
// backlog, its token and, with an SFU session, a PeerConnection with its
// goroutines (≈35 KiB and ≈13 goroutines measured), for the whole grace,
// while whoever dropped it keeps no socket open. A protocol fuzzer made
// 100 of them to fill a known room (room-full for real users for 20 s), and
// 2,000 across rooms took the heap from 3 to 73 MiB. Past a bound the
// participant leaves at once, as it would with resuming off: its client
// joins afresh.
const (
	// maxAwayPerAddress: a household or an office behind one NAT whose
	// network dropped brings back a handful of tabs at once; more from one
	// address is someone dropping connections on purpose.
	maxAwayPerAddress = 16
	// maxAwayTotal bounds the memory away participants hold server-wide
	// to ≈35 MiB; more dropped at the same moment is an outage that fresh
	// joins handle as well.
	maxAwayTotal = 1000
)

// awayCount is the hub's tally of away participants. Guarded by Hub.mu.
type awayCount struct {
	total  int
	byAddr map[string]int
}

// roomForAwayLocked reports whether c may become away without passing the
// bounds. Hub.mu held.
func (h *Hub) roomForAwayLocked(c *conn) bool {
	return h.away.total < h.opts.MaxAway && h.away.byAddr[c.ip] < h.opts.MaxAwayPerAddress
}

// markAwayLocked counts c as away from now. Hub.mu held.
func (h *Hub) markAwayLocked(c *conn) {
	if h.away.byAddr == nil {
		h.away.byAddr = make(map[string]int)
	}
	h.away.total++
	h.away.byAddr[c.ip]++
	c.awaySince = time.Now()
}

// unmarkAwayLocked stops counting c, which was away (resumed or gone).
// Hub.mu held.
func (h *Hub) unmarkAwayLocked(c *conn) {
	h.away.total--
	if h.away.byAddr[c.ip]--; h.away.byAddr[c.ip] <= 0 {
		delete(h.away.byAddr, c.ip)
	}
}

// oldestAway is the member of r that has been away longest, or nil.
// Hub.mu held.
func (r *room) oldestAway() *conn {
	var oldest *conn
	for _, m := range r.members {
		if m.backlog.Load() != nil && (oldest == nil || m.awaySince.Before(oldest.awaySince)) {
			oldest = m
		}
	}
	return oldest
}

// admitLocked makes room for a newcomer in r: when r is full, its away
// participants leave, the longest-away first, until the newcomer fits (a
// room full of dropped connections must not lock real people out). It
// returns the SFU sessions of those who left, to close once Hub.mu is
// released. Hub.mu held.
func (h *Hub) admitLocked(r *room) ([]SFUSession, *ProtocolError) {
	var closed []SFUSession
	for {
		perr := r.admit(h.opts)
		if perr == nil || perr.Code != CodeRoomFull {
			return closed, perr
		}
		old := r.oldestAway()
		if old == nil {
			return closed, perr
		}
		old.log.Info("away participant makes room for a newcomer", "room", r.name, "peer", old.id)
		closed = append(closed, h.leaveLocked(old, "timeout"))
	}
}
