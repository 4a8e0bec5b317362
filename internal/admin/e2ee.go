package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// e2eeRequest is the body of PUT /api/admin/rooms/{room}/e2ee. E2EE is a
// pointer so that a body without it is an error, not "turn it off".
type e2eeRequest struct {
	E2EE *bool `json:"e2ee"`
}

// setRoomE2EE allows one live room to go without end-to-end encryption
// (false) or takes that back (true); docs/admin.md.
func (a *API) setRoomE2EE(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req e2eeRequest
	if err := dec.Decode(&req); err != nil || req.E2EE == nil {
		writeError(w, http.StatusBadRequest, "bad-json", fmt.Sprintf("expected {\"e2ee\": true|false}: %v", err))
		return
	}
	room := r.PathValue("room")
	if err := a.hub.SetE2EE(room, *req.E2EE); err != nil {
		writeHubError(w, err)
		return
	}
	a.log.Warn("admin: room end-to-end encryption set", "room", room, "e2ee", *req.E2EE)
	a.getRoom(w, r)
}
