package signaling

import "time"

// Admin snapshots show each participant's SFU connection state, which
// only the SFU knows. Asking it happens after Hub.mu is released (the lock
// order, hub.go), on a goroutine of its own, and the snapshot waits for
// the answer at most sfuStateWait: a stalled SFU call must not stall the
// admin API, let alone every join and relay behind the hub's lock.

const (
	// sfuStateWait bounds how long a snapshot waits for the SFU's states.
	// Reading one is an atomic load in pion (microseconds for a whole
	// server), so the bound is only ever reached when the SFU is stuck;
	// it stays well under what an admin page or a scrape tolerates.
	sfuStateWait = 50 * time.Millisecond
	// maxStateProbes bounds the goroutines asking the SFU at once. A
	// stuck SFU call keeps its probe until it returns; past this many,
	// snapshots show "unknown" at once instead of adding goroutines.
	maxStateProbes = 4
)

// sfuUnknown is the SFU state a snapshot shows when the SFU did not answer
// in time.
const sfuUnknown = "unknown"

// fillSFUStates sets PeerInfo.SFU in rooms from the sessions snapshot
// returned with them: "none" for a participant with no SFU connection,
// "unknown" for one the SFU did not report in time.
func (h *Hub) fillSFUStates(rooms []RoomInfo, sessions map[string][]SFUSession) {
	var all []SFUSession
	for _, r := range rooms {
		all = append(all, sessions[r.Name]...)
	}
	states := h.sfuStates(all)
	for i := range rooms {
		for j := range rooms[i].Peers {
			rooms[i].Peers[j].SFU, states = states[0], states[1:]
		}
	}
}

// sfuStates asks each session for its state, off this goroutine, and
// waits at most sfuStateWait. Called without Hub.mu.
func (h *Hub) sfuStates(sessions []SFUSession) []string {
	states := make([]string, len(sessions))
	asking := false
	for i, s := range sessions {
		if s == nil {
			states[i] = "none"
		} else {
			states[i], asking = sfuUnknown, true
		}
	}
	if !asking {
		return states
	}
	select {
	case h.probes <- struct{}{}:
	default:
		return states // every probe is stuck in the SFU
	}
	done := make(chan []string, 1)
	go func() {
		defer func() { <-h.probes }()
		got := make([]string, len(states))
		for i, s := range sessions {
			got[i] = states[i]
			if s != nil {
				got[i] = s.State()
			}
		}
		done <- got
	}()
	wait := time.NewTimer(sfuStateWait)
	defer wait.Stop()
	select {
	case got := <-done:
		return got
	case <-wait.C:
		h.log.Warn("the SFU did not report connection states in time; the admin view shows them as unknown", "wait", sfuStateWait)
		return states
	}
}
