package signaling

import "time"

// evaluate applies r's policy to its size and switches its mode when the
// policy says so (docs/architecture.md §2). Called with Hub.mu held after every join,
// leave and policy change. The `mode` message goes to everyone in the
// room but except (a newcomer who learns the mode from its welcome).
//
//   - sfu-only: always SFU.
//   - mesh-only: mesh whenever the room fits in a mesh; an SFU room that is
//     still too big stays SFU (nobody is thrown out) until enough leave.
//   - auto: the join that makes the room mesh_max+1 switches it to SFU; it
//     returns to mesh after staying at or below mesh_down for
//     MeshDownDelay, so a room hovering around the limit does not flap.
//     A room pinned by a failed mesh link (linkfailed.go) stays SFU while
//     the pinned pair is in it.
func (h *Hub) evaluate(r *room, except *conn) {
	n, o := len(r.members), h.opts
	want := r.mode
	switch r.policy {
	case PolicySFUOnly:
		want = ModeSFU
	case PolicyMeshOnly:
		if n <= o.MeshMax {
			want = ModeMesh
		}
	case PolicyAuto:
		switch {
		case n > o.MeshMax:
			want = ModeSFU
		case r.mode == ModeSFU && r.pinnedLocked():
			want = ModeSFU
		case r.mode == ModeSFU && n <= o.MeshDown:
			if r.downTimer == nil {
				r.downWaits++
				wait := r.downWaits
				r.downTimer = time.AfterFunc(o.MeshDownDelay, func() { h.meshDownExpired(r, wait) })
			}
			return
		}
	}
	if want == ModeSFU && o.SFU == nil {
		want = ModeMesh // no SFU on this server: rooms stay meshes up to room_max
	}
	r.stopDownTimer()
	h.setMode(r, want, false, except)
}

// meshDownExpired ends hysteresis wait number wait: if the room is still
// small, it goes back to mesh. A timer that fired while Hub.mu was held,
// and was stopped or replaced meanwhile, finds another wait and does
// nothing.
func (h *Hub) meshDownExpired(r *room, wait uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.downTimer == nil || r.downWaits != wait {
		return
	}
	r.downTimer = nil
	if h.rooms[r.name] != r || r.policy != PolicyAuto || r.mode != ModeSFU || len(r.members) > h.opts.MeshDown || r.pinnedLocked() {
		return
	}
	h.setMode(r, ModeMesh, false, nil)
}

// setMode switches r to m and tells everyone in it; announce sends the
// `mode` message even when only the policy changed.
func (h *Hub) setMode(r *room, m Mode, announce bool, except *conn) {
	if r.mode == m && !announce {
		return
	}
	if r.mode != m {
		h.log.Info("room switched", "room", r.name, "from", r.mode, "to", m, "policy", r.policy, "participants", len(r.members))
		h.opts.Observer.ModeSwitched(r.mode, m)
		r.mode = m
		r.switches++
	}
	r.broadcast(encode(modeMsg{Type: TypeMode, Mode: r.mode, Policy: r.policy}), except)
}

func (r *room) stopDownTimer() {
	if r.downTimer != nil {
		r.downTimer.Stop()
		r.downTimer = nil
	}
}
